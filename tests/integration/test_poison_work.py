"""Poison work ends: it is never retried forever (DESIGN §5.7).

A task that has used all its attempts (each one killed its worker, say) ends FAILED with
``too_many_attempts`` instead of being re-queued again; an error inside ``workflows.advance``
(an agent that no longer exists) fails the execution with the error instead of being
re-advanced by the reaper every few minutes. Driven in this process, no broker.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from kombu.exceptions import OperationalError as KombuOperationalError

from models import ExecutionStatus, TaskStatus
from tests.support.agents import add_agent
from tests.support.publisher import RecordingPublisher
from tests.support.workflows import add_workflow
from worker.agents.runner import execute_task
from worker.agents.runtime import Runtime, build_runtime
from worker.agents.submission import create_task
from worker.app.handlers import handle_advance_workflow
from worker.core.contract import RunTaskRequest
from worker.core.settings import Settings
from worker.durable.leases import ClaimedTask, claim_task, release_task
from worker.workflows.catalog import start_execution
from worker.workflows.engine import advance


@pytest.fixture
def runtime(database_url: str) -> Iterator[Runtime]:
    settings = Settings(database_url=database_url, openai_base_url="http://127.0.0.1:9/v1")
    runtime = build_runtime(settings, RecordingPublisher(), concurrency=2, heartbeat=False)
    try:
        yield runtime
    finally:
        runtime.close()


def _row(engine: sa.Engine, sql: str, **params: object) -> sa.Row[tuple[object, ...]]:
    with engine.connect() as connection:
        return connection.execute(sa.text(sql), params).one()


def test_a_task_that_used_all_its_attempts_fails_instead_of_running_again(
    runtime: Runtime, engine: sa.Engine
) -> None:
    add_agent(engine, "helper")
    with engine.begin() as connection:
        task_id = create_task(
            connection,
            Settings(),
            RunTaskRequest(tenant="acme", agent="helper", input="hi"),
            idempotency_key=None,
        ).task_id
        # Five claims, each ended by its worker dying: the lease ran out every time.
        connection.execute(
            sa.text(
                "UPDATE tasks SET status = 'RUNNING', attempts = max_attempts, "
                "lease_owner = 'gone', lease_expires_at = now() - interval '1 s' WHERE id = :i"
            ),
            {"i": task_id},
        )

    outcome = execute_task(runtime, task_id)

    task = _row(engine, "SELECT status, error_code, error FROM tasks WHERE id = :i", i=task_id)
    assert outcome.status == "failed"
    assert (task.status, task.error_code) == ("FAILED", "too_many_attempts")
    assert "5 attempts" in task.error
    event = _row(
        engine,
        "SELECT content FROM event_logs WHERE task_id = :i AND event_type = 'ERROR'",
        i=task_id,
    )
    assert "too_many_attempts" in event.content or "5 attempts" in event.content


def test_an_error_inside_an_advance_fails_the_execution_with_the_error(
    runtime: Runtime, engine: sa.Engine
) -> None:
    add_agent(engine, "first")
    add_agent(engine, "second")
    add_workflow(
        engine,
        "two_steps",
        [
            {"key": "one", "kind": "agent", "agent": "first"},
            {"key": "two", "kind": "agent", "agent": "second"},
        ],
    )
    with engine.begin() as connection:
        execution_id = start_execution(
            connection, tenant="acme", workflow="two_steps", input={}, idempotency_key=None
        ).execution_id
    advance(engine, RecordingPublisher(), execution_id)
    with engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE ai_agents SET status = 'inactive' WHERE name = 'second'")
        )
        connection.execute(
            sa.text("UPDATE tasks SET status = 'SUCCEEDED', result = '{\"output\": 1}'")
        )

    result = handle_advance_workflow(runtime, {"execution_id": str(execution_id)})

    execution = _row(
        engine,
        "SELECT status, error_log FROM ai_workflow_executions WHERE id = :i",
        i=uuid.UUID(str(execution_id)),
    )
    assert result["status"] == ExecutionStatus.FAILED.value
    assert execution.status == ExecutionStatus.FAILED.value
    assert "unknown agent 'second'" in execution.error_log["error"]


def test_a_task_handed_back_on_purpose_many_times_is_not_given_up(engine: sa.Engine) -> None:
    """Waiting for a Retry-After or for a person hands the task back; only claims that ended
    without a hand-back (a worker died) count against max_attempts."""
    add_agent(engine, "helper")
    with engine.begin() as connection:
        task_id = create_task(
            connection,
            Settings(),
            RunTaskRequest(tenant="acme", agent="helper", input="hi"),
            idempotency_key=None,
        ).task_id
    for _ in range(8):  # each claim is followed by a deliberate hand-back (e.g. a deferral)
        with engine.begin() as connection:
            claimed = claim_task(connection, task_id, "worker-1", 60)
            assert isinstance(claimed, ClaimedTask), f"given up after {_} hand-backs"
            assert release_task(connection, task_id, "worker-1", TaskStatus.PENDING)
    with engine.begin() as connection:
        assert isinstance(claim_task(connection, task_id, "worker-1", 60), ClaimedTask)


class _BrokerDown(RecordingPublisher):
    def publish(self, name: str, kwargs: dict[str, Any], **options: Any) -> str:
        raise KombuOperationalError("Error 111 connecting to 127.0.0.1:6399. Connection refused.")


def test_an_advance_that_cannot_reach_the_broker_is_retried_not_failed(
    database_url: str, engine: sa.Engine
) -> None:
    """A broker outage is transient, like a database outage: the message is retried (and the
    reaper re-publishes a lost wake-up); the execution must not be failed for it."""
    add_agent(engine, "first")
    add_workflow(engine, "one_step", [{"key": "one", "kind": "agent", "agent": "first"}])
    with engine.begin() as connection:
        execution_id = start_execution(
            connection, tenant="acme", workflow="one_step", input={}, idempotency_key=None
        ).execution_id
    settings = Settings(database_url=database_url, openai_base_url="http://127.0.0.1:9/v1")
    runtime = build_runtime(settings, _BrokerDown(), concurrency=2, heartbeat=False)
    try:
        with pytest.raises(KombuOperationalError):
            handle_advance_workflow(runtime, {"execution_id": str(execution_id)})
    finally:
        runtime.close()

    execution = _row(
        engine,
        "SELECT status FROM ai_workflow_executions WHERE id = :i",
        i=uuid.UUID(str(execution_id)),
    )
    assert execution.status != ExecutionStatus.FAILED.value
