"""The reaper finds lost wake-ups quickly and leaves alone what is only waiting.

A wake-up (``workflows.advance`` after a decision, an expiry or a step's task ending) is
published after its commit; a crash in between, or a lost message, must not strand the
execution, and recovery must not wait for the 300 s idle rule (DESIGN §5.1). Driven directly:
``reap`` with a recording publisher.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from models import ExecutionStatus
from tests.support.agents import add_agent, ensure_tenant
from tests.support.people import add_member
from tests.support.publisher import RecordingPublisher
from tests.support.workflows import add_workflow, approval_gate
from worker.approvals import cli_principal, resolve
from worker.durable.leases import claim_task
from worker.durable.reaper import reap
from worker.orchestrator import add_card, answer_interview
from worker.workflows.catalog import start_execution
from worker.workflows.engine import advance

APPROVER = "ada@acme.test"


def _reap(engine: sa.Engine, publisher: RecordingPublisher) -> None:
    reap(engine, publisher, stale_after_seconds=300, lost_wake_seconds=20)


def _advances(publisher: RecordingPublisher) -> list[str]:
    return [
        kwargs["execution_id"] for name, kwargs, _ in publisher.sent if "execution_id" in kwargs
    ]


def _age(engine: sa.Engine, table: str, column: str, seconds: int) -> None:
    """Make every row's ``column`` ``seconds`` old (past the updated_at triggers)."""
    with engine.begin() as connection:
        connection.execute(sa.text("SET LOCAL session_replication_role = replica"))
        connection.execute(
            sa.text(f"UPDATE {table} SET {column} = now() - make_interval(secs => :s)"),
            {"s": seconds},
        )


def _started(
    engine: sa.Engine, steps: list[dict[str, object]], input: dict[str, object] | None = None
) -> uuid.UUID:
    add_agent(engine, "writer")
    add_member(engine, "acme", APPROVER, "approver")
    add_workflow(engine, "flow", steps)
    with engine.begin() as connection:
        execution_id = start_execution(
            connection, tenant="acme", workflow="flow", input=input or {}, idempotency_key=None
        ).execution_id
    advance(engine, RecordingPublisher(), execution_id)
    return execution_id


def test_a_decided_gate_whose_wake_up_was_lost_is_advanced_within_the_grace(
    engine: sa.Engine,
) -> None:
    execution_id = _started(
        engine, [approval_gate(), {"key": "after", "kind": "agent", "agent": "writer"}]
    )
    with engine.connect() as connection:
        approval_id = connection.execute(sa.text("SELECT id FROM approvals")).scalar_one()
    resolve(
        engine, RecordingPublisher(), approval_id, "approve", APPROVER, principal=cli_principal()
    )  # its wake is lost

    publisher = RecordingPublisher()
    _reap(engine, publisher)
    assert _advances(publisher) == [], "woken before the wake-up had a chance to arrive"

    _age(engine, "approvals", "decided_at", 30)
    _age(engine, "ai_workflow_executions", "updated_at", 30)
    _reap(engine, publisher)
    assert _advances(publisher) == [str(execution_id)]
    _reap(engine, publisher)
    assert _advances(publisher) == [str(execution_id)], "published again at once"
    assert advance(engine, publisher, execution_id) == ExecutionStatus.RUNNING.value


def test_a_step_whose_task_ended_without_its_wake_up_is_advanced_within_the_grace(
    engine: sa.Engine,
) -> None:
    execution_id = _started(engine, [{"key": "draft", "kind": "agent", "agent": "writer"}])
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "UPDATE tasks SET status = 'SUCCEEDED', result = '{\"output\": \"x\"}', "
                "finished_at = now() - interval '30 s'"
            )
        )
    _age(engine, "ai_workflow_executions", "updated_at", 30)

    publisher = RecordingPublisher()
    _reap(engine, publisher)
    assert _advances(publisher) == [str(execution_id)]
    assert advance(engine, publisher, execution_id) == ExecutionStatus.COMPLETED.value


def test_what_only_waits_is_not_woken(engine: sa.Engine) -> None:
    _started(engine, [approval_gate(), {"key": "after", "kind": "agent", "agent": "writer"}])
    _age(engine, "ai_workflow_executions", "updated_at", 3600)
    _age(engine, "approvals", "created_at", 3600)

    publisher = RecordingPublisher()
    _reap(engine, publisher)
    assert publisher.sent == [], "an execution waiting for a person was re-published"


def test_a_running_step_is_not_re_advanced_when_pending_tasks_are_checked_often(
    engine: sa.Engine,
) -> None:
    """Lost task messages are looked for after seconds (AGENTWORKER_PENDING_REPUBLISH_SECONDS);
    an execution busy with a running step is not woken on that clock."""
    _started(engine, [{"key": "draft", "kind": "agent", "agent": "writer"}])
    with engine.begin() as connection:
        task_id = connection.execute(sa.text("SELECT id FROM tasks")).scalar_one()
        assert claim_task(connection, task_id, "worker-a", 30) is not None
    _age(engine, "ai_workflow_executions", "updated_at", 60)

    publisher = RecordingPublisher()
    reap(engine, publisher, stale_after_seconds=15, lost_wake_seconds=20)
    assert _advances(publisher) == []


def test_an_execution_whose_first_advance_was_never_published_starts_within_the_grace(
    engine: sa.Engine,
) -> None:
    """A start that committed and then could not publish (the broker was down; the caller's
    retry found its idempotency key taken) leaves a PENDING execution and nothing else."""
    add_agent(engine, "writer")
    add_workflow(engine, "flow", [{"key": "draft", "kind": "agent", "agent": "writer"}])
    with engine.begin() as connection:
        execution_id = start_execution(
            connection, tenant="acme", workflow="flow", input={}, idempotency_key=None
        ).execution_id

    publisher = RecordingPublisher()
    _reap(engine, publisher)
    assert _advances(publisher) == [], "woken before its own advance had a chance to arrive"

    _age(engine, "ai_workflow_executions", "updated_at", 30)
    _reap(engine, publisher)
    assert _advances(publisher) == [str(execution_id)]
    _reap(engine, publisher)
    assert _advances(publisher) == [str(execution_id)], "published again at once"


def _interviewing(engine: sa.Engine) -> tuple[uuid.UUID, uuid.UUID]:
    tenant_id = ensure_tenant(engine)
    with engine.begin() as connection:
        project_id = connection.execute(
            sa.text("INSERT INTO projects (tenant_id, name) VALUES (:t, 'p') RETURNING id"),
            {"t": tenant_id},
        ).scalar_one()
    execution_id = _started(
        engine,
        [
            {"key": "ask", "kind": "interview", "question": "What for?"},
            {"key": "after", "kind": "agent", "agent": "writer"},
        ],
        input={"project_id": str(project_id)},
    )
    with engine.connect() as connection:
        interview_id = connection.execute(sa.text("SELECT id FROM interviews")).scalar_one()
    return execution_id, interview_id


def test_an_answered_interview_whose_wake_up_was_lost_is_advanced_within_the_grace(
    engine: sa.Engine,
) -> None:
    execution_id, interview_id = _interviewing(engine)
    with engine.begin() as connection:  # answered; its wake is lost
        answer_interview(connection, interview_id, "selling bikes", principal=None, actor="pat")

    publisher = RecordingPublisher()
    _reap(engine, publisher)
    assert _advances(publisher) == [], "woken before the wake-up had a chance to arrive"

    _age(engine, "interviews", "updated_at", 30)
    _age(engine, "ai_workflow_executions", "updated_at", 30)
    _reap(engine, publisher)
    assert _advances(publisher) == [str(execution_id)]
    assert advance(engine, publisher, execution_id) == ExecutionStatus.RUNNING.value


def test_an_interview_waiting_for_its_answer_is_not_woken(engine: sa.Engine) -> None:
    _interviewing(engine)
    _age(engine, "interviews", "updated_at", 3600)
    _age(engine, "ai_workflow_executions", "updated_at", 3600)

    publisher = RecordingPublisher()
    _reap(engine, publisher)
    assert publisher.sent == [], "an execution waiting for a person was re-published"


def test_a_board_card_whose_task_ended_without_its_wake_up_is_advanced_within_the_grace(
    engine: sa.Engine,
) -> None:
    tenant_id = ensure_tenant(engine)
    add_agent(engine, "committer")
    with engine.begin() as connection:
        project_id = connection.execute(
            sa.text("INSERT INTO projects (tenant_id, name) VALUES (:t, 'p') RETURNING id"),
            {"t": tenant_id},
        ).scalar_one()
        add_card(connection, tenant_id=tenant_id, project_id=project_id, title="card")
    execution_id = _started(
        engine,
        [{"key": "build", "kind": "board", "agent": "writer", "committer": "committer"}],
        input={"project_id": str(project_id)},
    )
    _age(engine, "ai_workflow_executions", "updated_at", 60)
    with engine.begin() as connection:  # the card's task ends; its wake is lost
        connection.execute(
            sa.text(
                "UPDATE tasks SET status = 'SUCCEEDED', result = '{\"output\": \"x\"}', "
                "finished_at = now() - interval '30 s'"
            )
        )

    publisher = RecordingPublisher()
    _reap(engine, publisher)
    assert _advances(publisher) == [str(execution_id)]
    advance(engine, publisher, execution_id)
    with engine.connect() as connection:
        status = connection.execute(sa.text("SELECT status FROM board_tasks")).scalar_one()
    assert status == "review"
    _age(engine, "ai_workflow_executions", "updated_at", 25)
    _reap(engine, publisher)
    assert _advances(publisher) == [str(execution_id)], "woken again for a task it has seen"
