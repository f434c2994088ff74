"""Tools that need approval never run without one (DESIGN §8).

Before a batch of tool calls runs, the calls to gated tools are checked: missing approvals are
requested and the task is parked (AWAITING_APPROVAL, no worker slot held) while any is pending;
once all are decided, the refused ones are reported back so the model is told why.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa

from models import (
    AgentRunStatus,
    Approval,
    ApprovalKind,
    ApprovalStatus,
    EventType,
    TaskStatus,
)
from worker.agents.run_state import ActiveRun, AwaitingApproval, LostLease
from worker.agents.tool_calls import ToolCallScope
from worker.approvals.requests import request_approval
from worker.durable import records
from worker.durable.leases import release_task
from worker.durable.states import AGENT_RUN


def needs_approval(run: ActiveRun, scope: ToolCallScope, call: dict[str, Any]) -> bool:
    name = call.get("function", {}).get("name", "")
    tools = run.runtime.tools
    return name in scope.allowed_tools and name in tools and tools.get(name).needs_approval


def gate_tool_calls(
    run: ActiveRun, scope: ToolCallScope, calls: tuple[dict[str, Any], ...]
) -> dict[str, str]:
    """Tools that need approval never run without one. Request what is missing and park the
    task while any is pending; return the refusals (call id -> why) once all are decided."""
    gated = [call for call in calls if needs_approval(run, scope, call)]
    if not gated:
        return {}
    runtime, task = run.runtime, run.task
    with runtime.engine.begin() as connection:
        decided = {
            row.tool_call_id: row
            for row in connection.execute(
                sa.select(Approval.tool_call_id, Approval.status, Approval.decision_comment)
                .where(
                    Approval.agent_run_id == run.state.id,
                    Approval.tool_call_id.in_([c["id"] for c in gated]),
                )
                .with_for_update()  # a decision now waits for this transaction
            )
        }
        waiting = False
        for call in gated:
            if call["id"] not in decided:
                name, arguments = call["function"]["name"], call["function"]["arguments"]
                request_approval(
                    connection,
                    tenant_id=task.tenant_id,
                    kind=ApprovalKind.TOOL_CALL,
                    title=f"Let agent '{run.agent.name}' run tool '{name}'?",
                    payload={
                        "tool": name,
                        "arguments": _arguments(arguments),
                        "task_id": str(task.id),
                    },
                    scope=run.scope,
                    tool_call_id=call["id"],
                    requested_by=f"agent {run.agent.name}",
                )
                waiting = True
            elif decided[call["id"]].status == ApprovalStatus.PENDING:
                waiting = True
        if waiting:
            _park(connection, run)
    if waiting:
        raise AwaitingApproval()
    return {
        call_id: f"{row.status} by a person"
        + (f": {row.decision_comment}" if row.decision_comment else "")
        for call_id, row in decided.items()
        if row.status != ApprovalStatus.APPROVED
    }


def _park(connection: sa.Connection, run: ActiveRun) -> None:
    runtime = run.runtime
    if not release_task(connection, run.task.id, runtime.owner, TaskStatus.AWAITING_APPROVAL):
        raise LostLease()
    AGENT_RUN.apply(connection, run.state.id, AgentRunStatus.WAITING_APPROVAL)
    records.write(
        connection,
        metrics=run.pending_metrics,
        events=[
            records.event(
                run.scope,
                EventType.SYSTEM,
                "waiting for a person to approve a tool call; the worker slot is released",
            )
        ],
    )
    run.pending_metrics = []


def _arguments(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw
