"""This worker process's runtime: built on first use by a task (never at import), closed when
the process shuts down."""

from __future__ import annotations

import threading
from typing import Any

from celery.signals import worker_process_shutdown, worker_shutdown

from worker.agents.runtime import Runtime, build_runtime
from worker.app.celery_app import app
from worker.core.settings import get_settings
from worker.durable import schema
from worker.durable.publishing import CeleryPublisher

_process_runtime: Runtime | None = None
_process_lock = threading.Lock()


def process_runtime() -> Runtime:
    """This worker process's runtime, built on first use, at the schema the code needs."""
    global _process_runtime
    with _process_lock:
        if _process_runtime is None:
            settings = get_settings()
            concurrency = int(app.conf.worker_concurrency or 32)
            runtime = build_runtime(settings, CeleryPublisher(app), concurrency=concurrency)
            schema.assert_schema_current(runtime.engine)
            _process_runtime = runtime
        return _process_runtime


@worker_shutdown.connect
@worker_process_shutdown.connect
def close_process_runtime(**_: Any) -> None:
    global _process_runtime
    with _process_lock:
        if _process_runtime is not None:
            _process_runtime.close()
            _process_runtime = None
