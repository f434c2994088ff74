"""One batch of the tool calls a model asked for: through the approval gate, then each call
run (or refused), and all their results persisted as one step.

The conversation gets the results together, after every call ran, so a redelivered batch
finds either none or all of them there; a call with side effects has its own result recorded
the moment it exists (``worker.agents.tool_effects``), so the redelivered batch replays it
instead of acting again. Secret references in the arguments are resolved only here, for the tool,
and only those the task was granted (its input's and its agent's); what is recorded keeps the
reference, and the resolved values are concealed in the results (``worker.security.secret_refs``).
"""

from __future__ import annotations

import uuid
from typing import Any

from models import EventType
from worker.agents.checkpoints import append_step
from worker.agents.loop import RunTools
from worker.agents.run_state import ActiveRun
from worker.agents.runtime import Runtime
from worker.agents.tool_calls import ToolCallScope, ToolOutcome
from worker.agents.tool_gate import GateDecision, dispatch_call, gate_tool_calls
from worker.agents.tools.specs import ToolContext
from worker.core import tracing
from worker.durable import faults, journal, records
from worker.security.encryption import SecretBox
from worker.security.secret_refs import Resolved, granted_references, resolve_references

#: How much of a tool's result its TOOL_RESULT event keeps (the message keeps it all).
_EVENT_RESULT_CHARS = 2000


def run_tools(run: ActiveRun, step: RunTools) -> None:
    """Run ``step``'s calls and persist their results; raises ``AwaitingApproval`` (the task
    is parked) while a call waits for a person."""
    runtime, task = run.runtime, run.task
    granted = granted_references(task.input_payload, run.agent.configuration.secrets)
    scope = ToolCallScope(
        task.tenant_id,
        task.id,
        run.state.id,
        run.agent.name,
        frozenset(run.agent.configuration.tools),
        resolve_secrets=lambda value: _resolve_secrets(runtime, task.tenant_id, granted, value),
        lease_owner=runtime.owner,
        timeout_seconds=run.tool_timeout_seconds(),
    )
    context = ToolContext(
        tenant_id=task.tenant_id,
        task_id=task.id,
        agent_run_id=run.state.id,
        agent_name=run.agent.name,
        session_factory=runtime.sessions,
        services={"runtime": runtime},
    )
    gate = gate_tool_calls(run, scope, step.calls)
    outcomes = [_dispatch(runtime, scope, gate, call, context) for call in step.calls]
    events = [
        records.event(
            run.scope,
            EventType.TOOL_RESULT,
            f"{o.name}: {o.status.value}",
            {
                "tool_call_id": o.tool_call_id,
                "name": o.name,
                "status": o.status.value,
                "duration_ms": o.duration_ms,
                "error": o.error,
                "result": o.content[:_EVENT_RESULT_CHARS],
            },
        )
        for o in outcomes
    ]
    append_step(
        run,
        journal.Step(
            [o.message() for o in outcomes],
            events=events,
            action_logs=[o.action_log for o in outcomes if o.action_log is not None],
        ),
    )
    faults.fault_point(faults.AFTER_TOOL_RESULT_PERSISTED, runtime.settings.fault_point)


def _dispatch(
    runtime: Runtime,
    scope: ToolCallScope,
    gate: GateDecision,
    call: dict[str, Any],
    context: ToolContext,
) -> ToolOutcome:
    if not tracing.ENABLED:
        return dispatch_call(runtime, scope, gate, call, context)
    function = call.get("function") or {}
    name = str(function.get("name") or "")
    with tracing.tool_call(name, str(call.get("id") or ""), function.get("arguments")) as span:
        outcome = dispatch_call(runtime, scope, gate, call, context)
        tracing.tool_result(span, outcome.status.value, outcome.content)
    return outcome


def _resolve_secrets(
    runtime: Runtime, tenant_id: uuid.UUID, granted: frozenset[str], value: Any
) -> Resolved:
    """``value`` with its {"$secret": …} references replaced by the tenant's secrets; a
    reference outside ``granted`` is refused."""
    keys = runtime.settings.encryption_keys
    with runtime.engine.connect() as connection:
        return resolve_references(
            value,
            connection=connection,
            tenant_id=tenant_id,
            box=SecretBox(keys) if keys else None,
            granted=granted,
        )
