"""The workflow engine's transitions, driven directly (no broker, no worker)."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

from models import ExecutionStatus, TaskStatus
from tests.support.agents import add_agent
from tests.support.publisher import RecordingPublisher
from tests.support.workflows import add_workflow, approval_gate
from worker.workflows.catalog import save_workflow_steps, start_execution
from worker.workflows.definition import InvalidWorkflow
from worker.workflows.engine import advance


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


def test_editing_a_workflow_does_not_change_running_executions(engine: sa.Engine) -> None:
    add_agent(engine, "helper")
    workflow_id = add_workflow(
        engine,
        "editable",
        [
            {"key": "first", "kind": "agent", "agent": "helper", "input": "version one"},
        ],
    )
    publisher = RecordingPublisher()
    running = _start(engine, "editable")
    advance(engine, publisher, running)

    with engine.begin() as connection:
        version = save_workflow_steps(
            connection,
            workflow_id,
            [
                {"key": "first", "kind": "agent", "agent": "helper", "input": "version two"},
                approval_gate(),
            ],
        )
    assert version == 2
    _finish_step_task(engine, "first")

    assert advance(engine, publisher, running) == ExecutionStatus.COMPLETED.value  # still v1
    newer = _start(engine, "editable")
    advance(engine, publisher, newer)
    with engine.connect() as connection:
        prompts = (
            connection.execute(sa.text("SELECT input_prompt FROM tasks ORDER BY created_at"))
            .scalars()
            .all()
        )
        versions = dict(
            connection.execute(
                sa.text("SELECT id, workflow_version FROM ai_workflow_executions")
            ).all()
        )
    assert prompts == ["version one", "version two"]
    assert versions == {running: 1, newer: 2}


def test_saving_an_invalid_workflow_is_refused_and_changes_nothing(engine: sa.Engine) -> None:
    add_agent(engine, "helper")
    workflow_id = add_workflow(
        engine,
        "strict",
        [
            {"key": "first", "kind": "agent", "agent": "helper"},
        ],
    )
    with pytest.raises(InvalidWorkflow, match="jumps to 'nowhere'"), engine.begin() as connection:
        save_workflow_steps(connection, workflow_id, [approval_gate(on_reject="goto:nowhere")])
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT version FROM ai_workflows")).scalar() == 1
