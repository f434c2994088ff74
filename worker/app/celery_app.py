"""The Celery app. Configuration comes from ``celeryconfig``; tasks from ``tasks``."""

from __future__ import annotations

from celery import Celery

from worker.app import lossless_redis
from worker.app.redis_restore import survive_restore_without_connection
from worker.app.visibility import VisibilityKeepAlive
from worker.core.broker_tls import configure_broker_tls
from worker.ops.logs import install_celery_hooks

TASK_MODULES = [
    "tasks.agents",
    "tasks.knowledge",
    "tasks.workflows",
    "tasks.approvals",
    "tasks.maintenance",
    "tasks.notifications",
    "tasks.automation",
]


def create_app(broker_url: str | None = None) -> Celery:
    """A Celery app with our configuration; ``broker_url`` overrides the environment's."""
    survive_restore_without_connection()
    lossless_redis.install()
    celery = Celery("agentworker", task_cls="worker.app.task_class:AgentWorkerTask")
    celery.config_from_object("celeryconfig")
    celery.conf.include = TASK_MODULES
    celery.conf.worker_consumer = "worker.app.consumer:RecordingConsumer"
    celery.steps["consumer"].add(VisibilityKeepAlive)
    if broker_url is not None:
        celery.conf.broker_url = broker_url
    configure_broker_tls(celery)
    return celery


app = create_app()
install_celery_hooks()  # JSON logs with task, tenant, run and execution ids; secrets redacted
