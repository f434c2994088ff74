"""Workflows with human-in-the-loop approvals, through real workers."""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from models import ExecutionStatus, TaskStatus
from models.db import sync_session_factory
from tests.support.agents import add_agent
from tests.support.people import add_member
from tests.support.stack import Stack, wait_until
from tests.support.workflows import add_workflow, approval_gate
from worker.approvals.errors import AlreadyDecided, ApprovalError, NotAllowed
from worker.dev.seed import seed_demo

APPROVER = "adam.approver@acme.example"
MEMBER = "mia.member@acme.example"


@pytest.fixture
def seeded(stack: Stack) -> Iterator[Stack]:
    with sync_session_factory(stack.engine)() as session:
        seed_demo(session)
    yield stack


def _wait_status(
    stack: Stack, execution_id: uuid.UUID, *statuses: ExecutionStatus, timeout: float = 40
) -> Any:
    return wait_until(
        lambda: v if (v := stack.client.get_execution(execution_id)).status in statuses else None,
        timeout=timeout,
        failure=lambda: (
            f"execution is {stack.client.get_execution(execution_id)}\n"
            + "\n".join(w.log()[-3000:] for w in stack.workers)
        ),
    )


def _pending_approval(stack: Stack, execution_id: uuid.UUID, timeout: float = 40) -> Any:
    _wait_status(stack, execution_id, ExecutionStatus.AWAITING_APPROVAL, timeout=timeout)
    (approval,) = [a for a in stack.client.approvals() if a.workflow_execution_id == execution_id]
    return approval


def _gated_workflow(stack: Stack, name: str = "gated", **policy: Any) -> None:
    add_agent(stack.engine, "helper")
    add_workflow(
        stack.engine,
        name,
        [
            {"key": "draft", "kind": "agent", "agent": "helper", "input": "draft it"},
            approval_gate(**policy),
            {"key": "publish", "kind": "agent", "agent": "helper", "input": "publish it"},
            {"key": "fallback", "kind": "agent", "agent": "helper", "input": "revise: {{ steps }}"},
        ],
    )
    add_member(stack.engine, "acme", "rita@acme.test", "approver")


def test_the_conference_planning_crew_pauses_for_approval_and_completes(seeded: Stack) -> None:
    seeded.start_worker()
    event_id = str(seeded.rows("SELECT id FROM events")[0].id)
    execution_id = seeded.client.start_workflow(
        tenant="acme",
        workflow="conference_planning_crew",
        input={"brief": "600 people in Lisbon", "event_id": event_id},
    )

    approval = _pending_approval(seeded, execution_id)
    assert approval.title == "Approve the venue shortlist"
    assert approval.workflow == "conference_planning_crew"
    assert approval.payload["show"]  # the venue researcher's output
    assert seeded.rows("SELECT count(*) AS n FROM venues")[0].n == 1
    assert seeded.rows("SELECT count(*) AS n FROM speakers")[0].n == 0  # nothing runs meanwhile

    seeded.client.resolve_approval(approval.id, "approve", user=APPROVER, comment="go")
    # The speaker scout's invitation email waits for a person too; nothing is sent before.
    invitation = wait_until(
        lambda: next((a for a in seeded.client.approvals() if a.kind.value == "tool_call"), None),
        timeout=40,
        failure=lambda: "\n".join(w.log()[-3000:] for w in seeded.workers),
    )
    assert invitation.payload["tool"] == "send_email"
    assert seeded.rows(_TOOL_EMAILS) == []
    seeded.client.resolve_approval(invitation.id, "approve", user=APPROVER, comment="send it")
    done = _wait_status(seeded, execution_id, ExecutionStatus.COMPLETED, ExecutionStatus.FAILED)

    assert done.status == ExecutionStatus.COMPLETED, done.error
    assert set(done.output["steps"]) == {
        "research_venues",
        "approve_shortlist",
        "find_speakers",
        "find_sponsors",
        "find_people",
        "price_plan",
    }
    for table in ("venues", "speakers", "sponsors", "budgets"):
        rows = seeded.rows(f"SELECT count(*) AS n FROM {table} WHERE event_id = :e", e=event_id)
        assert rows[0].n == 1, table
    audits = seeded.rows("SELECT actor, action, changes FROM audit_logs ORDER BY created_at")
    assert [(a.actor, a.action) for a in audits] == [(APPROVER, "approval.approved")] * 2
    assert [a.changes["comment"] for a in audits] == ["go", "send it"]
    assert len(seeded.rows(_TOOL_EMAILS)) == 1  # the approved invitation, queued for SMTP
    notified = seeded.rows(
        "SELECT recipient_id FROM ai_communications WHERE communication_type = 'in_app_message'"
    )
    assert len(notified) == 2 * 2  # per approval: the approver and the owner; not the member
    # The budget planner leaves the organisers (the owner) its insights and recommendations.
    (insight,) = seeded.rows("SELECT * FROM ai_insights WHERE event_id = :e", e=event_id)
    assert insight.generated_by_agent_id is not None
    (recommendation,) = seeded.rows(
        "SELECT u.email, r.reasoning FROM ai_recommendations r JOIN users u ON u.id = r.user_id "
        "WHERE r.event_id = :e",
        e=event_id,
    )
    assert recommendation.email == "olivia.owner@acme.example"
    assert recommendation.reasoning["agent"] == "budget_planner"


def test_a_rejection_follows_on_reject(stack: Stack) -> None:
    _gated_workflow(stack, on_reject="goto:fallback")
    stack.start_worker()
    execution_id = stack.client.start_workflow(tenant="acme", workflow="gated")

    approval = _pending_approval(stack, execution_id)
    stack.client.resolve_approval(approval.id, "reject", user="rita@acme.test", comment="too long")
    done = _wait_status(stack, execution_id, ExecutionStatus.COMPLETED, ExecutionStatus.FAILED)

    assert done.status == ExecutionStatus.COMPLETED, done.error
    assert done.steps["gate"]["output"] == {"decision": "rejected", "comment": "too long"}
    assert "publish" not in done.output["steps"]
    assert "fallback" in done.output["steps"]


def test_an_expired_approval_follows_on_timeout(stack: Stack) -> None:
    _gated_workflow(stack, on_timeout="skip", expires_in_seconds=1)
    stack.start_worker(beat=True, AGENTWORKER_APPROVAL_EXPIRY_INTERVAL_SECONDS="0.5")
    execution_id = stack.client.start_workflow(tenant="acme", workflow="gated")

    done = _wait_status(stack, execution_id, ExecutionStatus.COMPLETED, ExecutionStatus.FAILED)

    assert done.status == ExecutionStatus.COMPLETED, done.error
    assert done.steps["gate"]["status"] == "skipped"
    assert {"draft", "publish", "fallback"} <= set(done.output["steps"])
    (audit,) = stack.rows("SELECT actor, action FROM audit_logs")
    assert (audit.actor, audit.action) == ("system", "approval.expired")
    (approval,) = stack.rows("SELECT id FROM approvals")
    with pytest.raises(AlreadyDecided, match="already expired"):
        stack.client.resolve_approval(approval.id, "approve", user="rita@acme.test")


def test_waiting_workflows_hold_no_worker_slot(stack: Stack) -> None:
    _gated_workflow(stack)
    add_agent(stack.engine, "quick")
    stack.start_worker(concurrency=1)
    executions = [
        stack.client.start_workflow(tenant="acme", workflow="gated", idempotency_key=f"wait-{i}")
        for i in range(5)
    ]
    for execution_id in executions:
        _pending_approval(stack, execution_id)

    task = stack.wait_for(
        stack.client.submit(tenant="acme", agent="quick", input="still free?"), timeout=20
    )

    assert task.status == TaskStatus.SUCCEEDED
    assert len(stack.client.approvals()) == 5


def test_twenty_concurrent_resolves_make_one_decision_one_resume_and_one_audit_row(
    stack: Stack,
) -> None:
    _gated_workflow(stack)
    stack.start_worker()
    execution_id = stack.client.start_workflow(tenant="acme", workflow="gated")
    approval = _pending_approval(stack, execution_id)
    barrier = threading.Barrier(20)
    outcomes: list[str] = []

    def decide(i: int) -> None:
        barrier.wait()
        try:
            stack.client.resolve_approval(
                approval.id,
                "approve",
                user="rita@acme.test",
                comment=f"#{i}",
            )
            outcomes.append("decided")
        except AlreadyDecided as error:
            outcomes.append(str(error))

    threads = [threading.Thread(target=decide, args=(i,)) for i in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert outcomes.count("decided") == 1
    refusals = [o for o in outcomes if o != "decided"]
    assert len(refusals) == 19
    assert all(r.startswith("already approved by rita@acme.test at") for r in refusals)
    _wait_status(stack, execution_id, ExecutionStatus.COMPLETED, ExecutionStatus.FAILED)
    assert len(stack.rows("SELECT id FROM audit_logs WHERE action LIKE 'approval.%'")) == 1
    assert len(stack.rows("SELECT id FROM event_logs WHERE event_type = 'APPROVAL_RESOLVED'")) == 1
    after_gate = stack.rows(
        "SELECT workflow_step, count(*) AS n FROM tasks "
        "WHERE workflow_step IN ('publish', 'fallback') GROUP BY 1"
    )
    assert sorted((r.workflow_step, r.n) for r in after_gate) == [("fallback", 1), ("publish", 1)]


def test_approvers_from_another_tenant_or_without_the_role_are_refused_and_audited(
    stack: Stack,
) -> None:
    _gated_workflow(stack)
    add_member(stack.engine, "acme", "mia@acme.test", "member")
    add_member(stack.engine, "globex", "gus@globex.test", "owner")
    stack.start_worker()
    execution_id = stack.client.start_workflow(tenant="acme", workflow="gated")
    approval = _pending_approval(stack, execution_id)

    with pytest.raises(
        NotAllowed,
        match="is 'member' in tenant 'acme'; deciding this approval needs 'approver' or above",
    ):
        stack.client.resolve_approval(approval.id, "approve", user="mia@acme.test")
    with pytest.raises(
        NotAllowed, match=re.escape("gus@globex.test is not a user of tenant 'acme'")
    ):
        stack.client.resolve_approval(approval.id, "approve", user="gus@globex.test")
    with pytest.raises(ApprovalError, match=re.escape("unknown user 'nobody@x.test'")):
        stack.client.resolve_approval(approval.id, "approve", user="nobody@x.test")

    refused = stack.rows("SELECT actor, action, changes FROM audit_logs ORDER BY created_at")
    assert [(r.actor, r.action) for r in refused] == [
        ("mia@acme.test", "approval.refused"),
        ("gus@globex.test", "approval.refused"),
        ("nobody@x.test", "approval.refused"),
    ]
    assert stack.client.get_execution(execution_id).status == ExecutionStatus.AWAITING_APPROVAL


#: The tool's emails (the approvers' approval emails are email rows too).
_TOOL_EMAILS = (
    "SELECT id FROM ai_communications WHERE communication_type = 'email' "
    "AND personalization_data ->> 'tool_call_id' IS NOT NULL"
)


def _tool_run(stack: Stack, decision: str, comment: str) -> Any:
    add_agent(stack.engine, "mailer", tools=["send_email"])
    add_member(stack.engine, "acme", "rita@acme.test", "approver")
    stack.start_worker(concurrency=1)
    task_id = stack.client.submit(
        tenant="acme", agent="mailer", input="Tell the venue we are coming"
    )
    stack.wait_for(task_id, statuses={TaskStatus.AWAITING_APPROVAL})
    (approval,) = stack.client.approvals()
    assert approval.kind.value == "tool_call"
    assert approval.payload["tool"] == "send_email"
    assert set(approval.payload["arguments"]) == {"to", "subject", "body"}
    assert stack.rows(_TOOL_EMAILS) == []
    stack.client.resolve_approval(approval.id, decision, user="rita@acme.test", comment=comment)
    return stack.wait_for(task_id)


def test_an_approved_tool_call_runs_and_the_conversation_continues(stack: Stack) -> None:
    task = _tool_run(stack, "approve", "fine")

    assert task.status == TaskStatus.SUCCEEDED, task.error
    assert len(stack.rows(_TOOL_EMAILS)) == 1
    (action,) = stack.rows("SELECT status FROM action_logs WHERE task_id = :t", t=task.id)
    assert action.status == "success"


def test_a_rejected_tool_call_never_runs_and_the_model_is_told_why(stack: Stack) -> None:
    task = _tool_run(stack, "reject", "not this week")

    assert task.status == TaskStatus.SUCCEEDED, task.error
    assert stack.rows(_TOOL_EMAILS) == []
    (run,) = stack.rows(
        "SELECT (SELECT jsonb_agg(m.message ORDER BY m.seq) "
        "FROM agent_run_messages m WHERE m.run_id = agent_runs.id) AS messages "
        "FROM agent_runs WHERE task_id = :t",
        t=task.id,
    )
    tool_message = next(m for m in run.messages if m["role"] == "tool")
    assert "not run: rejected by a person: not this week" in tool_message["content"]
    assert "not this week" in task.result["output"]


def test_a_parallel_join_runs_once_when_step_messages_arrive_twice(stack: Stack) -> None:
    add_agent(stack.engine, "helper")
    add_workflow(
        stack.engine,
        "fan",
        [
            {
                "key": "split",
                "kind": "parallel",
                "branches": [
                    {"key": "left", "kind": "agent", "agent": "helper", "input": "left"},
                    {"key": "right", "kind": "agent", "agent": "helper", "input": "right"},
                ],
            },
            {"key": "after", "kind": "agent", "agent": "helper", "input": "{{ steps.split }}"},
        ],
    )
    stack.start_worker(concurrency=8)
    execution_id = stack.client.start_workflow(tenant="acme", workflow="fan")
    branch_tasks = wait_until(
        lambda: (
            rows
            if len(
                rows := stack.rows("SELECT id FROM tasks WHERE workflow_step IN ('left', 'right')")
            )
            == 2
            else None
        ),
        timeout=20,
        failure=lambda: "branches did not start",
    )
    for row in branch_tasks:  # every step message delivered twice, and advances repeated
        stack.app.send_task("agents.run_task", kwargs={"task_id": str(row.id)}, queue="agents")
    for _ in range(5):
        stack.app.send_task(
            "workflows.advance", kwargs={"execution_id": str(execution_id)}, queue="workflows"
        )

    done = _wait_status(stack, execution_id, ExecutionStatus.COMPLETED, ExecutionStatus.FAILED)

    assert done.status == ExecutionStatus.COMPLETED, done.error
    assert set(done.output["steps"]["split"]) == {"left", "right"}
    joins = stack.rows("SELECT id FROM event_logs WHERE content = 'step split: completed'")
    assert len(joins) == 1
    assert stack.rows("SELECT count(*) AS n FROM tasks WHERE workflow_step = 'after'")[0].n == 1
    assert stack.rows("SELECT count(*) AS n FROM agent_runs")[0].n == 3


def test_a_worker_killed_mid_step_is_replaced_and_no_output_is_duplicated(stack: Stack) -> None:
    add_agent(stack.engine, "helper", tools=["current_time"])
    add_workflow(
        stack.engine,
        "two_steps",
        [
            {"key": "first", "kind": "agent", "agent": "helper", "input": "first"},
            {"key": "second", "kind": "agent", "agent": "helper", "input": "second"},
        ],
    )
    doomed = stack.start_worker(
        AGENTWORKER_FAULT_POINT="after_tool_result_persisted", AGENTWORKER_LEASE_SECONDS="2"
    )
    execution_id = stack.client.start_workflow(tenant="acme", workflow="two_steps")
    wait_until(
        lambda: doomed.process.poll(),
        timeout=20,
        failure=lambda: f"fault point did not fire:\n{doomed.log()[-3000:]}",
    )

    stack.start_worker(
        beat=True, AGENTWORKER_LEASE_SECONDS="2", AGENTWORKER_REAPER_INTERVAL_SECONDS="1"
    )
    done = _wait_status(
        stack, execution_id, ExecutionStatus.COMPLETED, ExecutionStatus.FAILED, timeout=60
    )

    assert done.status == ExecutionStatus.COMPLETED, done.error
    assert stack.rows("SELECT count(*) AS n FROM tasks")[0].n == 2
    assert stack.rows("SELECT count(*) AS n FROM agent_runs")[0].n == 2
    assert stack.rows("SELECT count(*) AS n FROM action_logs")[0].n == 2  # one tool call each
    assert len(stack.rows("SELECT id FROM event_logs WHERE content = 'step first: completed'")) == 1


def test_cancelling_a_waiting_execution_cancels_its_approval(stack: Stack) -> None:
    _gated_workflow(stack)
    stack.start_worker()
    execution_id = stack.client.start_workflow(tenant="acme", workflow="gated")
    approval = _pending_approval(stack, execution_id)

    assert stack.client.cancel(execution_id).changed

    assert stack.client.get_execution(execution_id).status == ExecutionStatus.CANCELLED
    (row,) = stack.rows("SELECT status FROM approvals WHERE id = :a", a=approval.id)
    assert row.status == "cancelled"
    with pytest.raises(AlreadyDecided, match="already cancelled"):
        stack.client.resolve_approval(approval.id, "approve", user="rita@acme.test")


def test_cancelling_a_running_execution_stops_its_step(stack: Stack) -> None:
    model = add_agent(stack.engine, "slow")
    add_workflow(
        stack.engine,
        "slow_flow",
        [
            {"key": "long", "kind": "agent", "agent": "slow", "input": "take your time"},
            {"key": "never", "kind": "agent", "agent": "slow", "input": "unreachable"},
        ],
    )
    stack.program_faults(model, {"delay_ms": 3000})
    stack.start_worker()
    execution_id = stack.client.start_workflow(tenant="acme", workflow="slow_flow")
    (task,) = wait_until(
        lambda: stack.rows("SELECT id FROM tasks WHERE status = 'RUNNING'") or None,
        timeout=20,
        failure=lambda: "the step did not start",
    )

    assert stack.client.cancel(execution_id).changed

    stopped = wait_until(
        lambda: stack.rows("SELECT status FROM agent_runs WHERE status = 'CANCELLED'") or None,
        timeout=20,
        failure=lambda: "the running step did not stop",
    )
    assert stopped
    assert stack.client.get_task(task.id).status == TaskStatus.CANCELLED
    assert stack.rows("SELECT count(*) AS n FROM tasks WHERE workflow_step = 'never'")[0].n == 0
