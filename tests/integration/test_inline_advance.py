"""A step's task that ends in a worker advances its execution in that worker, and a decided
approval advances its execution where it was decided (the client, the API, the inbox, the
worker of ``approvals.resolve``): no ``workflows.advance`` message; when advancing there fails
for a reason the message path would retry, the message is published instead."""

from __future__ import annotations

import functools
import uuid

import pytest
import sqlalchemy as sa

from tests.support.agents import add_agent
from tests.support.publisher import RecordingPublisher
from tests.support.runs import local_runtime, run_step_task, run_to_gate, start_gated_workflow
from tests.support.workflows import add_workflow
from worker.app.handlers import advance_here, handle_resolve_approval
from worker.client import AgentWorkerClient
from worker.core.contract import ADVANCE_WORKFLOW, RUN_TASK
from worker.core.settings import Settings
from worker.workflows.catalog import start_execution
from worker.workflows.engine import advance

APPROVER = "ada@acme.test"


def _status(engine: sa.Engine, execution_id: uuid.UUID) -> str:
    with engine.connect() as connection:
        return connection.execute(
            sa.text("SELECT status FROM ai_workflow_executions WHERE id = :e"), {"e": execution_id}
        ).scalar_one()


def test_a_finished_step_moves_its_execution_in_the_same_worker(
    engine: sa.Engine, database_url: str
) -> None:
    execution_id = start_gated_workflow(engine, APPROVER)
    advance(engine, RecordingPublisher(), execution_id)
    with local_runtime(database_url) as (runtime, _):
        runtime.advance_workflow = functools.partial(advance_here, runtime)
        run_step_task(engine, runtime, "draft")
        sent = runtime.publisher.names()  # type: ignore[attr-defined]

    assert _status(engine, execution_id) == "awaiting_approval"  # moved on to its gate
    assert ADVANCE_WORKFLOW not in sent


def test_when_advancing_here_fails_the_message_is_published(
    engine: sa.Engine, database_url: str
) -> None:
    execution_id = start_gated_workflow(engine, APPROVER)
    advance(engine, RecordingPublisher(), execution_id)

    def unreachable(_: uuid.UUID) -> None:
        raise sa.exc.OperationalError("SELECT 1", {}, Exception("connection refused"))

    with local_runtime(database_url) as (runtime, _):
        runtime.advance_workflow = unreachable
        run_step_task(engine, runtime, "draft")
        sent = runtime.publisher.sent  # type: ignore[attr-defined]

    assert (ADVANCE_WORKFLOW, {"execution_id": str(execution_id)}, None) in sent
    assert _status(engine, execution_id) == "running"  # the message will move it


def test_the_next_steps_task_is_still_published_for_any_worker(
    engine: sa.Engine, database_url: str
) -> None:
    add_agent(engine, "helper")
    add_workflow(
        engine,
        "two",
        [
            {"key": "draft", "kind": "agent", "agent": "helper", "input": "a"},
            {"key": "publish", "kind": "agent", "agent": "helper", "input": "b"},
        ],
    )
    with engine.begin() as connection:
        execution_id = start_execution(
            connection, tenant="acme", workflow="two", input={}, idempotency_key=None
        ).execution_id
    advance(engine, RecordingPublisher(), execution_id)
    with local_runtime(database_url) as (runtime, _):
        runtime.advance_workflow = functools.partial(advance_here, runtime)
        run_step_task(engine, runtime, "draft")
        sent = runtime.publisher.names()  # type: ignore[attr-defined]
    assert sent == [RUN_TASK]  # the publish step's task, for whichever worker takes it


def _gate(engine: sa.Engine, database_url: str) -> tuple[uuid.UUID, uuid.UUID]:
    """An execution waiting on its gate, and the gate's approval."""
    execution_id = start_gated_workflow(engine, APPROVER)
    with local_runtime(database_url) as (runtime, _):
        run_to_gate(engine, runtime, execution_id)
    with engine.connect() as connection:
        approval_id = connection.execute(
            sa.text("SELECT id FROM approvals WHERE workflow_execution_id = :e"),
            {"e": execution_id},
        ).scalar_one()
    return execution_id, approval_id


def _step_tasks(engine: sa.Engine, step: str) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(
                sa.text("SELECT count(*) FROM tasks WHERE workflow_step = :s"), {"s": step}
            ).scalar_one()
        )


def test_a_decision_starts_the_next_step_where_it_was_made(
    engine: sa.Engine, database_url: str
) -> None:
    """No ``workflows.advance`` to wait for behind the queued agent runs: when the client's
    call returns, the next step's task exists and its message is sent."""
    execution_id, approval_id = _gate(engine, database_url)
    publisher = RecordingPublisher()
    client = AgentWorkerClient(engine, publisher, Settings(), tenant="acme")

    client.resolve_approval(approval_id, "approve", user=APPROVER)

    assert publisher.names() == [RUN_TASK]
    assert _step_tasks(engine, "publish") == 1
    assert _status(engine, execution_id) == "running"


def test_a_decision_whose_advance_fails_here_is_sent_as_the_message(
    engine: sa.Engine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    execution_id, approval_id = _gate(engine, database_url)

    def unreachable(*_: object) -> str:
        raise sa.exc.OperationalError("SELECT 1", {}, Exception("connection refused"))

    monkeypatch.setattr("worker.workflows.advance_here.advance", unreachable)
    publisher = RecordingPublisher()
    client = AgentWorkerClient(engine, publisher, Settings(), tenant="acme")

    client.resolve_approval(approval_id, "approve", user=APPROVER)

    assert publisher.sent == [(ADVANCE_WORKFLOW, {"execution_id": str(execution_id)}, None)]
    assert _step_tasks(engine, "publish") == 0  # the message will start it


def test_the_approvals_message_advances_in_the_worker_that_decides(
    engine: sa.Engine, database_url: str
) -> None:
    execution_id, approval_id = _gate(engine, database_url)
    with local_runtime(database_url) as (runtime, _):
        result = handle_resolve_approval(
            runtime,
            {"approval_id": str(approval_id), "decision": "approve", "user": APPROVER},
        )
        sent = runtime.publisher.names()  # type: ignore[attr-defined]

    assert result["status"] == "approved", result
    assert sent == [RUN_TASK]
    assert _step_tasks(engine, "publish") == 1
    assert _status(engine, execution_id) == "running"
