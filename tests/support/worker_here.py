"""Our Celery worker, run in the test's own process (a thread, Celery's test worker) against
the test's database, Redis database and a local LLM server: for tests that must see what the
worker does from inside (its spans), through the real broker path.

The worker is the one ``celery -A worker.app worker`` runs: the same app, tasks, signal
hooks and runtime (built from the environment, set here and read once as in a process).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from worker.app import celery_app
from worker.app.process import close_process_runtime
from worker.core.settings import get_settings


@contextmanager
def worker_here(
    monkeypatch: pytest.MonkeyPatch,
    *,
    runtime_database_url: str,
    broker_url: str,
    llm_base_url: str,
    concurrency: int = 2,
    **env: str,
) -> Iterator[None]:
    """Run our worker in this process until the block ends."""
    from celery.contrib.testing.worker import start_worker

    variables = {
        "DATABASE_URL": runtime_database_url,
        "CELERY_BROKER_URL": broker_url,
        "OPENAI_BASE_URL": llm_base_url,
        "AGENTWORKER_LOCAL_LLM": "1",
        "AGENTWORKER_LLM_BACKOFF_INITIAL_SECONDS": "0.05",
        "AGENTWORKER_LLM_BACKOFF_MAX_SECONDS": "0.2",
        "AGENTWORKER_PRICE_TABLE": json.dumps({"model-": {"input": 0.15, "output": 0.6}}),
        **env,
    }
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    app = celery_app.app
    previous = app.conf.broker_url
    app.conf.broker_url = broker_url
    try:
        with start_worker(
            app,
            concurrency=concurrency,
            pool="threads",
            perform_ping_check=False,
            queues=["agents", "workflows", "celery"],
            without_heartbeat=True,
        ):
            yield
    finally:
        close_process_runtime()
        app.conf.broker_url = previous
        if app._pool is not None:  # connections to this test's broker: none for the next
            app._pool.force_close_all()
            app._pool = None
        app.amqp._producer_pool = None
        get_settings.cache_clear()
