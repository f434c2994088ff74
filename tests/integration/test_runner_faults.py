"""A transient database error in the middle of a run strands nothing (DESIGN §5.2).

The run is driven in this process (``execute_task`` with a real runtime, real PostgreSQL and
the local LLM server over HTTP); the fault is real too: while the model thinks, every
connection of the test's database is terminated, so the run's next write fails.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from models.db import create_sync_engine
from tests.support.agents import add_agent
from tests.support.publisher import RecordingPublisher
from worker.agents.runner import execute_task
from worker.agents.runtime import Runtime, build_runtime
from worker.agents.submission import create_task
from worker.core.contract import RunTaskRequest
from worker.core.settings import Settings
from worker.dev.llm_server import LocalLLMServer

LEASE_SECONDS = 3.0


@pytest.fixture
def runtime(database_url: str) -> Iterator[Runtime]:
    with LocalLLMServer(latency_ms=1500) as llm:
        settings = Settings(
            database_url=database_url,
            openai_base_url=llm.base_url,
            lease_seconds=LEASE_SECONDS,
            llm_max_attempts=1,
        )
        runtime = build_runtime(settings, RecordingPublisher(), concurrency=4)
        try:
            yield runtime
        finally:
            runtime.close()


def _submit(engine: sa.Engine) -> uuid.UUID:
    with engine.begin() as connection:
        return create_task(
            connection,
            Settings(),
            RunTaskRequest(tenant="acme", agent="helper", input="hi"),
            idempotency_key=None,
        ).task_id


@contextmanager
def _database_down(server_url: str, database_url: str) -> Iterator[None]:
    """While inside: the test's database refuses new connections and has none open."""
    name = make_url(database_url).database
    admin = create_sync_engine(server_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
        connection.execute(
            sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
            {"n": name},
        )
        try:
            yield
        finally:
            connection.execute(sa.text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
    admin.dispose()


def _task(engine: sa.Engine, task_id: uuid.UUID) -> sa.Row[tuple[str, datetime | None]]:
    with engine.connect() as connection:
        return connection.execute(
            sa.text("SELECT status, lease_expires_at FROM tasks WHERE id = :i"), {"i": task_id}
        ).one()


def test_a_run_whose_database_connection_dies_is_handed_back_and_its_retry_finishes_it(
    runtime: Runtime, engine: sa.Engine, database_url: str, postgres_server_url: str
) -> None:
    add_agent(engine, "helper")
    task_id = _submit(engine)
    failures: list[BaseException] = []

    def first_attempt() -> None:
        try:
            execute_task(runtime, task_id)
        except BaseException as error:  # what the Celery task layer would retry on
            failures.append(error)

    worker = threading.Thread(target=first_attempt)
    worker.start()
    time.sleep(0.7)  # the model is thinking (1.5 s); then the run's next write fails
    with _database_down(postgres_server_url, database_url):
        worker.join(timeout=30)
    assert failures and isinstance(failures[0], sa.exc.OperationalError), failures

    # Celery retries the message with a backoff of seconds: within a few leases, a retry
    # must find the task free (handed back, or its lease left to run out) and finish it.
    deadline = time.monotonic() + LEASE_SECONDS * 4
    while (outcome := execute_task(runtime, task_id)).status == "skipped":
        assert time.monotonic() < deadline, "the task stayed held by a worker that stopped"
        time.sleep(0.5)
    assert (outcome.status, _task(engine, task_id).status) == ("succeeded", "SUCCEEDED")


def test_the_heartbeat_renews_only_the_leases_of_runs_executing_now(
    runtime: Runtime, engine: sa.Engine
) -> None:
    assert runtime.heartbeat is not None
    add_agent(engine, "helper")
    held, idle = _submit(engine), _submit(engine)
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "UPDATE tasks SET status = 'RUNNING', lease_owner = :o, "
                "lease_expires_at = now() + interval '1 s'"
            ),
            {"o": runtime.owner},
        )
    with runtime.heartbeat.holding(held):
        assert runtime.heartbeat.beat() == 1
    assert _task(engine, held).lease_expires_at > _task(engine, idle).lease_expires_at
    assert runtime.heartbeat.beat() == 0, "a run no longer executing was renewed"
