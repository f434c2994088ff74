"""Operating it: health checks, Prometheus metrics read from the tables, structured logs."""

from worker.core.exports import exports

__all__, __getattr__, __dir__ = exports(
    __name__,
    {
        "health": [
            "Check",
            "Readiness",
            "check_broker",
            "check_database",
            "check_liveness",
            "check_readiness",
            "check_worker",
        ],
        "metrics": ["MetricsServer", "metrics_registry", "render_metrics", "serve_metrics"],
        "logs": [
            "JsonFormatter",
            "TextFormatter",
            "configure_logging",
            "install_celery_hooks",
            "uninstall_celery_hooks",
        ],
    },
)
