"""The workflow engine's transitions, driven directly (no broker, no worker)."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from models import ExecutionStatus, TaskStatus
from tests.support.agents import add_agent
from tests.support.publisher import RecordingPublisher
from tests.support.workflows import add_workflow, approval_gate
from worker.workflows.engine import advance, start_execution


def _finish_step_task(engine: sa.Engine, step: str, output: str = "done") -> None:
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "UPDATE tasks SET status = 'SUCCEEDED', result = CAST(:r AS jsonb) "
                "WHERE workflow_step = :s"
            ),
            {"r": f'{{"output": "{output}"}}', "s": step},
        )


def _start(engine: sa.Engine, workflow: str) -> uuid.UUID:
    with engine.begin() as connection:
        return start_execution(
            connection, tenant="acme", workflow=workflow, input={"x": 1}, idempotency_key=None
        ).execution_id


def test_an_agent_step_then_an_approval_then_the_end(engine: sa.Engine) -> None:
    add_agent(engine, "helper")
    add_workflow(
        engine,
        "flow",
        [
            {"key": "draft", "kind": "agent", "agent": "helper", "input": "draft {{ input.x }}"},
            approval_gate(),
        ],
    )
    publisher = RecordingPublisher()
    execution_id = _start(engine, "flow")

    assert advance(engine, publisher, execution_id) == "running"
    assert publisher.names() == ["agents.run_task"]
    (task,) = engine.connect().execute(sa.text("SELECT input_prompt, status FROM tasks")).all()
    assert (task.input_prompt, task.status) == ("draft 1", TaskStatus.PENDING)

    assert advance(engine, publisher, execution_id) == "running"  # nothing new: still waiting
    assert publisher.names() == ["agents.run_task"]

    _finish_step_task(engine, "draft")
    assert advance(engine, publisher, execution_id) == ExecutionStatus.AWAITING_APPROVAL.value
    with engine.connect() as connection:
        (approval,) = connection.execute(sa.text("SELECT status, payload FROM approvals")).all()
    assert approval.status == "pending"
    assert approval.payload["show"]["draft"]["output"] == "done"


def test_a_workflow_may_start_with_an_approval_gate(engine: sa.Engine) -> None:
    add_agent(engine, "helper")
    add_workflow(
        engine,
        "gate_first",
        [
            approval_gate(),
            {"key": "after", "kind": "agent", "agent": "helper", "input": "go"},
        ],
    )
    publisher = RecordingPublisher()
    execution_id = _start(engine, "gate_first")

    assert advance(engine, publisher, execution_id) == ExecutionStatus.AWAITING_APPROVAL.value
    with engine.connect() as connection:
        (approval,) = connection.execute(sa.text("SELECT status FROM approvals")).all()
    assert approval.status == "pending"
    assert publisher.sent == []  # nothing runs while it waits
