"""Going back starts a new attempt: a gate's backward ``goto:`` (on reject or on timeout) and a
condition's backward ``then`` run the steps again and ask the gate again; nothing after a gate
runs unless that attempt's approval was approved (DESIGN §5.6). Loops are bounded.

Driven directly (engine, approvals service, a recording publisher), no broker, no worker.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from models import ExecutionStatus
from tests.support.agents import add_agent
from tests.support.people import add_member
from tests.support.publisher import RecordingPublisher
from tests.support.workflows import add_workflow, approval_gate
from worker.approvals import cli_principal, expire_due, resolve
from worker.workflows.catalog import start_execution
from worker.workflows.engine import advance

APPROVER = "ada@acme.test"


def _start(engine: sa.Engine, workflow: str) -> uuid.UUID:
    with engine.begin() as connection:
        return start_execution(
            connection, tenant="acme", workflow=workflow, input={}, idempotency_key=None
        ).execution_id


def _finish_open_tasks(engine: sa.Engine, step: str, output: str = "done") -> int:
    """Let the open task of ``step`` succeed, as a worker would; how many there were."""
    with engine.begin() as connection:
        return connection.execute(
            sa.text(
                "UPDATE tasks SET status = 'SUCCEEDED', result = CAST(:r AS jsonb), "
                "finished_at = now() WHERE workflow_step = :s AND status = 'PENDING'"
            ),
            {"r": f'{{"output": "{output}"}}', "s": step},
        ).rowcount


def _tasks_of(engine: sa.Engine, step: str) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(
                sa.text("SELECT count(*) FROM tasks WHERE workflow_step = :s"), {"s": step}
            ).scalar_one()
        )


def _pending_approval(engine: sa.Engine) -> uuid.UUID:
    with engine.connect() as connection:
        (approval_id,) = (
            connection.execute(sa.text("SELECT id FROM approvals WHERE status = 'pending'"))
            .scalars()
            .all()
        )
    return uuid.UUID(str(approval_id))


def _status(engine: sa.Engine, execution_id: uuid.UUID) -> str:
    with engine.connect() as connection:
        return str(
            connection.execute(
                sa.text("SELECT status FROM ai_workflow_executions WHERE id = :i"),
                {"i": execution_id},
            ).scalar_one()
        )


def _draft_gate_publish(engine: sa.Engine, **policy: str) -> uuid.UUID:
    add_agent(engine, "writer")
    add_member(engine, "acme", APPROVER, "approver")
    add_workflow(
        engine,
        "guarded",
        [
            {"key": "draft", "kind": "agent", "agent": "writer", "input": "draft it"},
            approval_gate(**policy),
            {"key": "publish", "kind": "agent", "agent": "writer", "input": "publish it"},
        ],
    )
    return _start(engine, "guarded")


def _until_gate(engine: sa.Engine, publisher: RecordingPublisher, execution_id: uuid.UUID) -> None:
    advance(engine, publisher, execution_id)
    assert _finish_open_tasks(engine, "draft") == 1
    assert advance(engine, publisher, execution_id) == ExecutionStatus.AWAITING_APPROVAL.value


def test_a_rejection_that_goes_back_runs_the_step_again_and_asks_the_gate_again(
    engine: sa.Engine,
) -> None:
    publisher = RecordingPublisher()
    execution_id = _draft_gate_publish(engine, on_reject="goto:draft")
    _until_gate(engine, publisher, execution_id)

    resolve(
        engine,
        publisher,
        _pending_approval(engine),
        "reject",
        APPROVER,
        "too long",
        principal=cli_principal(),
    )
    advance(engine, publisher, execution_id)

    assert _tasks_of(engine, "publish") == 0, "publish ran although nothing was approved"
    assert _tasks_of(engine, "draft") == 2, "the draft did not run again"
    assert _finish_open_tasks(engine, "draft", "shorter") == 1
    assert advance(engine, publisher, execution_id) == ExecutionStatus.AWAITING_APPROVAL.value

    resolve(
        engine, publisher, _pending_approval(engine), "approve", APPROVER, principal=cli_principal()
    )
    advance(engine, publisher, execution_id)
    assert _tasks_of(engine, "publish") == 1
    assert _finish_open_tasks(engine, "publish") == 1
    assert advance(engine, publisher, execution_id) == ExecutionStatus.COMPLETED.value


def test_an_expiry_that_goes_back_asks_the_gate_again_before_anything_after_it_runs(
    engine: sa.Engine,
) -> None:
    publisher = RecordingPublisher()
    execution_id = _draft_gate_publish(engine, on_timeout="goto:draft")
    _until_gate(engine, publisher, execution_id)
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE approvals SET expires_at = now() - interval '1 s'"))

    assert expire_due(engine, publisher) == 1
    advance(engine, publisher, execution_id)

    assert _tasks_of(engine, "publish") == 0, "publish ran after an expired gate"
    assert _tasks_of(engine, "draft") == 2
    assert _finish_open_tasks(engine, "draft") == 1
    assert advance(engine, publisher, execution_id) == ExecutionStatus.AWAITING_APPROVAL.value


def test_a_condition_that_goes_back_loops_a_bounded_number_of_times(engine: sa.Engine) -> None:
    add_agent(engine, "writer")
    add_workflow(
        engine,
        "retrying",
        [
            {"key": "draft", "kind": "agent", "agent": "writer", "input": "draft it"},
            {
                "key": "check",
                "kind": "condition",
                "if": "{{ steps.draft.output }}",
                "contains": "again",
                "then": "draft",
            },
        ],
    )
    publisher = RecordingPublisher()
    execution_id = _start(engine, "retrying")
    advance(engine, publisher, execution_id)
    for _ in range(3):
        assert _finish_open_tasks(engine, "draft", "again") == 1
        advance(engine, publisher, execution_id)
    assert _tasks_of(engine, "draft") == 4, "each jump back is a new attempt of the step"
    assert _finish_open_tasks(engine, "draft", "good") == 1
    assert advance(engine, publisher, execution_id) == ExecutionStatus.COMPLETED.value

    forever = _start(engine, "retrying")
    advance(engine, publisher, forever)
    for _ in range(200):
        if _status(engine, forever) != ExecutionStatus.RUNNING.value:
            break
        _finish_open_tasks(engine, "draft", "again")
        advance(engine, publisher, forever)
    assert _status(engine, forever) == ExecutionStatus.FAILED.value
    with engine.connect() as connection:
        error = connection.execute(
            sa.text("SELECT error_log FROM ai_workflow_executions WHERE id = :i"), {"i": forever}
        ).scalar_one()
    assert "attempts" in error["error"]
