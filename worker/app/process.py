"""This worker process's runtime: built on first use by a task (never at import), closed when
the process shuts down. Before that, a worker with nothing to send LLM calls to refuses to
start (``start_refusal``): it never answers with a stand-in."""

from __future__ import annotations

import functools
import logging
import sys
import threading
from pathlib import Path
from typing import Any

from celery.signals import (
    heartbeat_sent,
    worker_init,
    worker_process_shutdown,
    worker_ready,
    worker_shutdown,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import NullPool

from models.db import DatabaseURLMissing, create_sync_engine
from worker.agents.runtime import Runtime, build_runtime
from worker.app.celery_app import app
from worker.app.handlers import advance_here
from worker.app.heap import release_free_heap
from worker.core import tracing
from worker.core.errors import ConfigurationError
from worker.core.settings import get_settings
from worker.durable import schema
from worker.durable.publishing import CeleryPublisher
from worker.ops import liveness
from worker.ops.health import check_provider

log = logging.getLogger(__name__)

_process_runtime: Runtime | None = None
_process_lock = threading.Lock()


def process_runtime() -> Runtime:
    """This worker process's runtime, built on first use, at the schema the code needs."""
    global _process_runtime
    with _process_lock:
        if _process_runtime is None:
            settings = get_settings()
            concurrency = int(app.conf.worker_concurrency or 32)
            marks = _marks()
            runtime = build_runtime(
                settings,
                CeleryPublisher(app),
                concurrency=concurrency,
                on_heartbeat=lambda: liveness.touch(marks, "leases"),
            )
            schema.assert_schema_current(runtime.engine)
            runtime.advance_workflow = functools.partial(advance_here, runtime)
            _process_runtime = runtime
        return _process_runtime


def start_refusal() -> str | None:
    """Why a worker must not start, in one line that says what to do, or ``None``: its
    settings do not parse, the database is not at the code's schema revision, its role is
    one that row-level security would not confine, or no LLM
    provider is configured anywhere (environment or ai_models). A database that cannot be read
    does not refuse: it is reported, and tasks retry."""
    try:
        settings = get_settings()
    except ConfigurationError as error:
        return str(error)
    if (out_of_date := _schema_refusal(settings.database_url)) is not None:
        return out_of_date
    provider = check_provider(settings)
    if provider.ok:
        log.info("LLM provider: %s", provider.detail)
    elif provider.configuration:
        return provider.detail
    else:
        log.warning("LLM provider %s", provider.detail)
    return None


def _schema_refusal(database_url: str | None) -> str | None:
    try:
        engine = create_sync_engine(database_url, poolclass=NullPool)
    except DatabaseURLMissing as error:
        return str(error)
    try:
        schema.assert_schema_current(engine)
        schema.assert_runtime_role_confined(engine)
    except (schema.SchemaOutOfDate, schema.PrivilegedRuntimeRole) as error:
        return str(error)
    except SQLAlchemyError:
        log.warning("the database cannot be read yet; its schema is checked when it can be")
    finally:
        engine.dispose()
    return None


@worker_init.connect
def _refuse_to_start_when_it_cannot_work(sender: Any = None, **_: Any) -> None:
    """Before the consumer starts: exit 2 with one line on stderr rather than take work that
    would fail (or, as once, succeed with canned answers)."""
    if getattr(sender, "app", None) is not app:
        return  # another Celery app's worker in this interpreter (the benchmarks' bare ones)
    refusal = start_refusal()
    if refusal is not None:
        print(f"error: {refusal}", file=sys.stderr, flush=True)
        raise SystemExit(2)  # not an Exception: Celery's signal dispatch lets it through
    # Before the consumer takes a message, so that the first task's span is there too.
    tracing.configure(get_settings())


@functools.cache
def _marks() -> Path:
    """This process's liveness directory, made once."""
    directory = Path(get_settings().liveness_dir)
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@worker_ready.connect
def _start_at_once(**_: Any) -> None:
    """Build the runtime when the worker is ready, not at its first task: the schema is
    checked and the lease heartbeat (one of the liveness marks) runs from the start."""
    try:
        process_runtime()
        liveness.touch(_marks(), "leases")
        release_free_heap()  # what starting freed (the schema check's compiling): ~10 MiB RSS
    except Exception:
        log.exception("the worker's runtime could not start; tasks will retry it")


@heartbeat_sent.connect
def _consumer_alive(**_: Any) -> None:
    """Celery's event heartbeat comes from the consumer loop: a wedged loop stops it."""
    liveness.touch(_marks(), "consumer")


@worker_shutdown.connect
@worker_process_shutdown.connect
def close_process_runtime(**_: Any) -> None:
    global _process_runtime
    with _process_lock:
        if _process_runtime is not None:
            _process_runtime.close()
            _process_runtime = None
