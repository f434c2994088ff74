"""A failed execution leaves no work behind (DESIGN §5): when one parallel branch fails, the
sibling branch's task stops (CANCELLED: a running one stops at its next checkpoint) and so do
the approvals its tools asked for."""

from __future__ import annotations

import sqlalchemy as sa

from models import ApprovalKind, ExecutionStatus
from tests.support.agents import add_agent
from tests.support.publisher import RecordingPublisher
from tests.support.workflows import add_workflow
from worker.approvals.requests import request_approval
from worker.durable import records
from worker.workflows.catalog import start_execution
from worker.workflows.engine import advance


def test_a_failing_branch_cancels_its_sibling_and_the_sibling_s_tool_approvals(
    engine: sa.Engine,
) -> None:
    add_agent(engine, "scout")
    add_workflow(
        engine,
        "fan_out",
        [
            {
                "key": "find",
                "kind": "parallel",
                "branches": [
                    {"key": "speakers", "kind": "agent", "agent": "scout"},
                    {"key": "sponsors", "kind": "agent", "agent": "scout"},
                ],
            }
        ],
    )
    with engine.begin() as connection:
        execution_id = start_execution(
            connection, tenant="acme", workflow="fan_out", input={}, idempotency_key=None
        ).execution_id
    advance(engine, RecordingPublisher(), execution_id)
    with engine.begin() as connection:
        tasks = dict(connection.execute(sa.text("SELECT workflow_step, id FROM tasks")).all())
        tenant_id = connection.execute(sa.text("SELECT id FROM tenants")).scalar_one()
        # The sponsors branch is parked on a person's approval of one of its tool calls.
        connection.execute(
            sa.text("UPDATE tasks SET status = 'AWAITING_APPROVAL' WHERE id = :i"),
            {"i": tasks["sponsors"]},
        )
        request_approval(
            connection,
            tenant_id=tenant_id,
            kind=ApprovalKind.TOOL_CALL,
            title="send it?",
            payload={},
            scope=records.Scope(tenant_id, tasks["sponsors"]),
            tool_call_id="call-1",
        )
        connection.execute(
            sa.text("UPDATE tasks SET status = 'FAILED', error = 'boom' WHERE id = :i"),
            {"i": tasks["speakers"]},
        )

    assert advance(engine, RecordingPublisher(), execution_id) == ExecutionStatus.FAILED.value
    with engine.connect() as connection:
        sibling = connection.execute(
            sa.text("SELECT status FROM tasks WHERE id = :i"), {"i": tasks["sponsors"]}
        ).scalar_one()
        approval = connection.execute(sa.text("SELECT status FROM approvals")).scalar_one()
        step = connection.execute(
            sa.text("SELECT status FROM ai_workflow_step_runs WHERE step_key = 'sponsors'")
        ).scalar_one()
    assert (sibling, approval, step) == ("CANCELLED", "cancelled", "cancelled")
