"""Running the tool calls a model asked for, each recorded as an action_logs row (seed 003).

A tool with side effects runs once per call (``worker.agents.tool_effects``: a database tool
commits its rows with its result, an external one is recorded before it acts and told the
call's idempotency key); a redelivered step replays what was recorded instead of acting twice.
Read-only tools just run, and their row is written with the step. Every call is bounded by a
deadline (``worker.agents.tool_deadlines``). Every failure (unknown tool, bad arguments, an
exception in the tool, a timeout) goes back to the model as text.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, replace
from typing import Any

import sqlalchemy as sa

from models import ActionLog, ActionStatus
from worker.agents.tool_deadlines import Abandonment, CallTimedOut, call_within
from worker.agents.tool_effects import (
    OUTCOME_UNKNOWN,
    Lease,
    RecordedCall,
    complete_call,
    database_effects,
    record_call,
)
from worker.agents.tools.errors import ToolArgumentsInvalid, UnknownTool
from worker.agents.tools.registry import ToolRegistry
from worker.agents.tools.specs import ToolContext, ToolSpec
from worker.durable import faults
from worker.durable.records import scrub
from worker.security.secret_refs import Resolved, UnknownSecret, conceal, has_references

MAX_RESULT_CHARS = 20_000
_action_logs = ActionLog.__table__


@dataclass(frozen=True)
class ToolCallScope:
    tenant_id: uuid.UUID
    task_id: uuid.UUID
    agent_run_id: uuid.UUID
    agent_name: str
    allowed_tools: Collection[str]
    #: Replaces the {"$secret": …} references the task was granted with their values, and
    #: says which values those were; refuses any other (worker.security.secret_refs).
    resolve_secrets: Callable[[Any], Resolved] = lambda value: Resolved(value, frozenset())
    #: The worker that must hold the task's lease for a tool with side effects to start;
    #: None outside a worker (a tool called directly), where no lease is checked.
    lease_owner: str | None = None
    #: How long one call may take before the run goes on without it; None: no bound.
    timeout_seconds: float | None = None


@dataclass(frozen=True)
class ToolOutcome:
    tool_call_id: str
    name: str
    arguments: Mapping[str, Any]
    status: ActionStatus
    content: str  # what the model reads back
    result: Any
    error: str | None
    duration_ms: int
    #: None for a database tool that timed out: its own transaction still holds the row.
    action_log: dict[str, Any] | None

    def message(self) -> dict[str, Any]:
        return {"role": "tool", "tool_call_id": self.tool_call_id, "content": self.content}


def idempotency_key(agent_run_id: uuid.UUID, tool_call_id: str) -> str:
    return f"tool:{agent_run_id}:{tool_call_id}"


def run_tool_call(
    engine: sa.Engine,
    registry: ToolRegistry,
    scope: ToolCallScope,
    call: Mapping[str, Any],
    context: ToolContext,
) -> ToolOutcome:
    call_id = str(call.get("id") or "")
    function = call.get("function") or {}
    name = str(function.get("name") or "")
    raw_arguments = function.get("arguments") or "{}"
    key = idempotency_key(scope.agent_run_id, call_id)
    started = time.perf_counter()

    def outcome(
        status: ActionStatus,
        content: str,
        *,
        result: Any = None,
        error: str | None = None,
        arguments: Mapping[str, Any] | None = None,
        spec: Any = None,
    ) -> ToolOutcome:
        duration = int((time.perf_counter() - started) * 1000)
        logged_args = arguments if arguments is not None else {"raw": raw_arguments}
        row = {
            "tenant_id": scope.tenant_id,
            "task_id": scope.task_id,
            "agent_run_id": scope.agent_run_id,
            "tool_call_id": call_id,
            "tool_name": name,
            "provider_name": getattr(spec, "provider", None) or "agentworker",
            "action_type": getattr(spec, "action_type", None),
            "request_payload": scrub(_json_safe(dict(logged_args))),
            "response_data": scrub(_json_safe(result)) if result is not None else None,
            "status": status,
            "error_message": scrub(error) if error else None,
            "execution_time_ms": duration,
            "idempotency_key": key,
        }
        return ToolOutcome(
            call_id, name, logged_args, status, content, result, error, duration, row
        )

    if name not in scope.allowed_tools:
        available = ", ".join(sorted(scope.allowed_tools)) or "none"
        problem = f"tool '{name}' is not available to this agent; available tools: {available}"
        return outcome(ActionStatus.FAILURE, f"error: {problem}", error=problem)
    secrets: frozenset[str] = frozenset()
    try:
        spec = registry.get(name)
        requested = _parsed(raw_arguments)
        if requested is not None and has_references(requested):
            # Secrets by reference: the tool gets the values; the records keep the reference,
            # and the values are concealed in whatever comes back.
            resolved = scope.resolve_secrets(requested)
            secrets = resolved.secrets
            arguments = registry.validate_arguments(name, resolved.value)
            shown: Mapping[str, Any] = requested
        else:
            arguments = registry.validate_arguments(name, raw_arguments)
            shown = arguments
    except (UnknownTool, ToolArgumentsInvalid, UnknownSecret) as error:
        problem = conceal(str(error), secrets)  # a validation error may quote a resolved value
        return outcome(ActionStatus.FAILURE, f"error: {problem}", error=problem)

    key_context = replace(context, tool_call_id=call_id, idempotency_key=key)

    def invoke(tool_context: ToolContext) -> ToolOutcome:
        try:
            result = conceal(registry.invoke(name, tool_context, arguments), secrets)
        except Exception as error:  # a tool's failure is the model's to handle (CONVENTIONS 10)
            problem = conceal(f"{type(error).__name__}: {error}", secrets)
            return outcome(
                ActionStatus.FAILURE,
                f"error: tool '{name}' failed: {problem}",
                error=problem,
                arguments=shown,
                spec=spec,
            )
        return outcome(
            ActionStatus.SUCCESS, _content(result, None), result=result, arguments=shown, spec=spec
        )

    def replay(recorded: RecordedCall) -> ToolOutcome:
        """What an earlier attempt of this call returned."""
        return outcome(
            recorded.status,
            _content(recorded.response_data, recorded.error_message),
            result=recorded.response_data,
            error=recorded.error_message,
            arguments=shown,
            spec=spec,
        )

    def timed_out(error: CallTimedOut) -> ToolOutcome:
        problem = f"tool '{name}' {error}" + (
            "; it may still take effect" if spec.side_effects and not spec.transactional else ""
        )
        late = outcome(
            ActionStatus.TIMEOUT, f"error: {problem}", error=problem, arguments=shown, spec=spec
        )
        return replace(late, action_log=None) if spec.transactional else late

    if not spec.side_effects:
        try:
            return call_within(scope.timeout_seconds, lambda _: invoke(key_context), name=name)
        except CallTimedOut as error:
            return timed_out(error)
    pending = _row(outcome(ActionStatus.PENDING, "", arguments=shown, spec=spec))
    lease = Lease(scope.task_id, scope.lease_owner) if scope.lease_owner else None
    effectful = _EffectfulCall(engine, spec, pending, lease, key_context, invoke, replay)
    run = effectful.in_one_transaction if spec.transactional else effectful.recorded_around
    try:
        return call_within(scope.timeout_seconds, run, name=name)
    except CallTimedOut as error:
        late = timed_out(error)
        if late.action_log is not None:
            with engine.begin() as connection:
                complete_call(connection, late.action_log, only_pending=True)
        return late


@dataclass(frozen=True)
class _EffectfulCall:
    """One call of a tool with side effects, and the two ways it is recorded around its run."""

    engine: sa.Engine
    spec: ToolSpec
    pending: Mapping[str, Any]  # its action row, PENDING
    lease: Lease | None
    context: ToolContext
    invoke: Callable[[ToolContext], ToolOutcome]
    replay: Callable[[RecordedCall], ToolOutcome]

    def in_one_transaction(self, abandonment: Abandonment) -> ToolOutcome:
        """A database tool: its rows and its result commit together, or nothing does."""
        with database_effects(self.engine) as (connection, sessions, commit):
            recorded = record_call(connection, self.pending, self.lease)
            if recorded is not None:
                return self.replay(recorded) if recorded.finished else self.unknown()
            faults.fault_point(faults.AFTER_TOOL_STARTED)
            done = self.invoke(replace(self.context, session_factory=sessions))
            if done.status != ActionStatus.SUCCESS:
                return done  # the transaction rolls back what the tool wrote; the step records it
            faults.fault_point(faults.AFTER_TOOL_RETURNED)
            with abandonment.unless_abandoned():
                complete_call(connection, _row(done))
                commit()
            return done

    def recorded_around(self, abandonment: Abandonment) -> ToolOutcome:
        """An external tool: recorded before it acts, its result written the moment it
        returns."""
        with self.engine.begin() as connection:
            recorded = record_call(connection, self.pending, self.lease)
        if recorded is not None and recorded.finished:
            return self.replay(recorded)
        if recorded is not None and not self.spec.idempotent:
            done = self.unknown()
        else:
            faults.fault_point(faults.AFTER_TOOL_STARTED)
            done = self.invoke(replace(self.context, outcome_unknown=recorded is not None))
            faults.fault_point(faults.AFTER_TOOL_RETURNED)
        with abandonment.unless_abandoned(), self.engine.begin() as connection:
            complete_call(connection, _row(done), only_pending=True)
        return done

    def unknown(self) -> ToolOutcome:
        """A call an earlier attempt started and never finished, not to be run again."""
        return self.replay(RecordedCall(ActionStatus.FAILURE, None, OUTCOME_UNKNOWN))


def _row(outcome: ToolOutcome) -> dict[str, Any]:
    """The outcome's action row: only a database call that timed out has none."""
    if outcome.action_log is None:
        raise AssertionError(f"the call {outcome.tool_call_id} has no action row to write")
    return outcome.action_log


def refused_call(
    scope: ToolCallScope, call: Mapping[str, Any], registry: ToolRegistry, reason: str
) -> ToolOutcome:
    """A call a person did not approve: the model is told why, and the tool never runs."""
    function = call.get("function") or {}
    name = str(function.get("name") or "")
    call_id = str(call.get("id") or "")
    try:
        arguments: Mapping[str, Any] = registry.validate_arguments(
            name, function.get("arguments") or "{}"
        )
    except (UnknownTool, ToolArgumentsInvalid):
        arguments = {"raw": function.get("arguments")}
    spec = registry.get(name) if name in registry else None
    row = {
        "tenant_id": scope.tenant_id,
        "task_id": scope.task_id,
        "agent_run_id": scope.agent_run_id,
        "tool_call_id": call_id,
        "tool_name": name,
        "provider_name": getattr(spec, "provider", None) or "agentworker",
        "action_type": getattr(spec, "action_type", None),
        "request_payload": scrub(_json_safe(dict(arguments))),
        "response_data": None,
        "status": ActionStatus.FAILURE,
        "error_message": scrub(reason),
        "execution_time_ms": 0,
        "idempotency_key": idempotency_key(scope.agent_run_id, call_id),
    }
    content = f"error: the call to '{name}' was not run: {reason}"
    return ToolOutcome(
        call_id, name, arguments, ActionStatus.FAILURE, content, None, reason, 0, row
    )


def _content(result: Any, error: str | None) -> str:
    if error:
        return f"error: {error}"
    text = result if isinstance(result, str) else json.dumps(_json_safe(result))
    return text if len(text) <= MAX_RESULT_CHARS else text[:MAX_RESULT_CHARS] + "…(truncated)"


def _parsed(raw: Any) -> dict[str, Any] | None:
    if isinstance(raw, Mapping):
        return dict(raw)
    try:
        value = json.loads(raw)
    except (TypeError, ValueError):
        return None  # the registry reports invalid JSON to the model
    return value if isinstance(value, dict) else None


def _json_safe(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))
