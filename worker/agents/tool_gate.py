"""Tools that need approval never run without one (DESIGN §8), and run only as approved.

Before a batch of tool calls runs, the calls to gated tools are checked: missing approvals are
requested (with the digest of the call, ``worker.approvals.digests``, the tool's argument schema
for an approver's edit, and the agent's quorum for the tool) and the task is parked
(AWAITING_APPROVAL, no worker slot held) while any is pending; once all are decided, the refused
ones are reported back so the model is told why. An approved call is dispatched with the
approved arguments (an approver's edit, else the model's own), and only if the digest of what is
about to run is the digest that was approved: otherwise it is not run, and the model and the
action log are told why.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import sqlalchemy as sa

from models import (
    Approval,
    ApprovalKind,
    ApprovalStatus,
)
from worker.agents.parking import park
from worker.agents.run_state import ActiveRun, AwaitingApproval
from worker.agents.runtime import Runtime
from worker.agents.tool_calls import ToolCallScope, ToolOutcome, refused_call, run_tool_call
from worker.agents.tools.specs import ToolContext
from worker.approvals.digests import call_arguments, tool_call_digest
from worker.approvals.quorum import QuorumPolicy
from worker.approvals.requests import request_approval
from worker.core import tracing


def needs_approval(run: ActiveRun, scope: ToolCallScope, call: dict[str, Any]) -> bool:
    name = call.get("function", {}).get("name", "")
    tools = run.runtime.tools
    return name in scope.allowed_tools and name in tools and tools.get(name).needs_approval


@dataclass(frozen=True)
class Approved:
    """What an approval let run: the digest, and the arguments when an approver edited them."""

    digest: str | None
    arguments: dict[str, Any] | None


@dataclass(frozen=True)
class GateDecision:
    #: Call id -> why the call is not run (rejected, expired, cancelled).
    refusals: dict[str, str]
    #: Call id -> what was approved, for the gated calls that may run.
    approved: dict[str, Approved]

    def dispatch(self, call: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        """The call to run (with the approved arguments), and why it may not run, if the
        digest of what is about to run is not the approved one."""
        approved = self.approved.get(call["id"])
        if approved is None:
            return call, None  # not gated
        function = call.get("function") or {}
        name = str(function.get("name") or "")
        if approved.arguments is not None:
            function = {**function, "arguments": json.dumps(approved.arguments)}
            call = {**call, "function": function}
        about_to_run = tool_call_digest(name, call_arguments(function.get("arguments")))
        if approved.digest is None or about_to_run != approved.digest:
            return call, (
                f"the call about to run (digest {about_to_run[:12]}…) is not the one approved "
                f"(digest {(approved.digest or 'none')[:12]}…), so it was not run"
            )
        return call, None


def dispatch_call(
    runtime: Runtime,
    scope: ToolCallScope,
    gate: GateDecision,
    call: dict[str, Any],
    context: ToolContext,
) -> ToolOutcome:
    """Run one call of the batch as the gate decided: refused, or run with the approved
    arguments once the digest of what is about to run is checked against the approved one."""
    if call["id"] in gate.refusals:
        return refused_call(scope, call, runtime.tools, gate.refusals[call["id"]])
    to_run, mismatch = gate.dispatch(call)
    if mismatch is not None:
        return refused_call(scope, to_run, runtime.tools, mismatch)
    outcome = run_tool_call(runtime.engine, runtime.tools, scope, to_run, context)
    approved = gate.approved.get(call["id"])
    if approved is None or approved.arguments is None:
        return outcome
    # The model learns that what ran is not exactly what it asked for.
    edited = to_run["function"]["arguments"]
    return replace(
        outcome, content=f"(run with arguments edited by an approver: {edited}) {outcome.content}"
    )


def gate_tool_calls(
    run: ActiveRun, scope: ToolCallScope, calls: tuple[dict[str, Any], ...]
) -> GateDecision:
    """Tools that need approval never run without one. Request what is missing and park the
    task while any is pending; once all are decided, return the refusals (call id -> why)
    and what was approved."""
    gated = [call for call in calls if needs_approval(run, scope, call)]
    if not gated:
        return GateDecision({}, {})
    runtime, task = run.runtime, run.task
    with runtime.engine.begin() as connection:
        decided = {
            row.tool_call_id: row
            for row in connection.execute(
                sa.select(
                    Approval.tool_call_id,
                    Approval.status,
                    Approval.decision_comment,
                    Approval.approved_digest,
                    Approval.approved_arguments,
                    Approval.policy,
                )
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
                name = call["function"]["name"]
                arguments = call_arguments(call["function"]["arguments"])
                policy = run.agent.configuration.tool_approvals.get(name) or QuorumPolicy()
                request_approval(
                    connection,
                    tenant_id=task.tenant_id,
                    kind=ApprovalKind.TOOL_CALL,
                    title=f"Let agent '{run.agent.name}' run tool '{name}'?",
                    payload={"tool": name, "arguments": arguments, "task_id": str(task.id)},
                    scope=run.scope,
                    tool_call_id=call["id"],
                    requested_by=f"agent {run.agent.name}",
                    quorum=policy.quorum,
                    rejections_needed=policy.rejections_needed,
                    digest=tool_call_digest(name, arguments),
                    arguments_schema=runtime.tools.get(name).parameters_schema,
                )
                waiting = True
            elif decided[call["id"]].status == ApprovalStatus.PENDING:
                waiting = True
        if waiting:
            park(connection, run, "approve a tool call")
    if waiting:
        raise AwaitingApproval()
    for call_id, row in decided.items():  # resumed after the decisions: link to the waits
        tracing.link_to_parked(row.policy, agentworker__tool__call__id=call_id)
    return GateDecision(
        refusals={
            call_id: f"{row.status} by a person"
            + (f": {row.decision_comment}" if row.decision_comment else "")
            for call_id, row in decided.items()
            if row.status != ApprovalStatus.APPROVED
        },
        approved={
            call_id: Approved(row.approved_digest, _approved_arguments(row.approved_arguments))
            for call_id, row in decided.items()
            if row.status == ApprovalStatus.APPROVED
        },
    )


def _approved_arguments(value: Any) -> dict[str, Any] | None:
    return dict(value) if isinstance(value, Mapping) else None
