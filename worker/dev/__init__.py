"""Development tools, never imported by the runtime: the local OpenAI-compatible server,
embedded PostgreSQL and Redis, worker processes for tests, and the demo seed."""

from worker.core.exports import exports

__all__, __getattr__, __dir__ = exports(
    __name__,
    {
        "llm_server": ["LocalLLMServer"],
        "services": [
            "EmbeddedPostgres",
            "EmbeddedRedis",
            "local_services",
            "start_worker_process",
            "stop_process",
            "wait_for_worker",
        ],
        "seed": ["seed_demo"],
    },
)
