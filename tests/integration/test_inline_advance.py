"""A step's task that ends in a worker advances its execution in that worker: no
``workflows.advance`` message per step; when advancing there fails for a reason the message
path would retry, the message is published instead."""

from __future__ import annotations

import functools
import uuid

import sqlalchemy as sa

from tests.support.agents import add_agent
from tests.support.publisher import RecordingPublisher
from tests.support.runs import local_runtime, run_step_task, start_gated_workflow
from tests.support.workflows import add_workflow
from worker.app.handlers import advance_here
from worker.core.contract import ADVANCE_WORKFLOW, RUN_TASK
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
