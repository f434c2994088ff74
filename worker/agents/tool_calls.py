"""Running the tool calls a model asked for, each recorded as an action_logs row (seed 003).

A tool with side effects records its call (keyed by run and tool-call id) before it runs and
its result after; a redelivered step finds the recorded result and replays it instead of
acting twice. Read-only tools just run, and their row is written with the step. Every failure
(unknown tool, bad arguments, an exception in the tool) goes back to the model as text.
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
from worker.agents.tools.errors import ToolArgumentsInvalid, UnknownTool
from worker.agents.tools.registry import ToolRegistry
from worker.agents.tools.specs import ToolContext
from worker.durable.records import scrub
from worker.durable.rows import insert_once
from worker.security.secret_refs import UnknownSecret, has_references

MAX_RESULT_CHARS = 20_000
_action_logs = ActionLog.__table__


@dataclass(frozen=True)
class ToolCallScope:
    tenant_id: uuid.UUID
    task_id: uuid.UUID
    agent_run_id: uuid.UUID
    agent_name: str
    allowed_tools: Collection[str]
    #: Replaces {"$secret": …} references with their values (worker.security.secret_refs).
    resolve_secrets: Callable[[Any], Any] = lambda value: value


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
    action_log: dict[str, Any]

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
    try:
        spec = registry.get(name)
        requested = _parsed(raw_arguments)
        if requested is not None and has_references(requested):
            # Secrets by reference: the tool gets the values; the records keep the reference.
            arguments = registry.validate_arguments(name, scope.resolve_secrets(requested))
            shown: Mapping[str, Any] = requested
        else:
            arguments = registry.validate_arguments(name, raw_arguments)
            shown = arguments
    except (UnknownTool, ToolArgumentsInvalid, UnknownSecret) as error:
        return outcome(ActionStatus.FAILURE, f"error: {error}", error=str(error))

    if spec.side_effects:
        recorded = _record_before(
            engine, outcome(ActionStatus.PENDING, "", arguments=shown, spec=spec).action_log
        )
        if recorded is not None and recorded.status != ActionStatus.PENDING:
            # Redelivery: this call already ran. Replay what it returned.
            replay = recorded.response_data
            return outcome(
                recorded.status,
                _content(replay, recorded.error_message),
                result=replay,
                error=recorded.error_message,
                arguments=shown,
                spec=spec,
            )
    try:
        result = registry.invoke(name, replace(context, tool_call_id=call_id), arguments)
    except Exception as error:  # a tool's failure is the model's to handle (CONVENTIONS 10)
        problem = f"{type(error).__name__}: {error}"
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


def _record_before(engine: sa.Engine, row: dict[str, Any]) -> sa.Row[Any] | None:
    """Insert the pending call; return the existing row if this call was recorded before."""
    with engine.begin() as connection:
        recorded = insert_once(
            connection,
            _action_logs,  # type: ignore[arg-type]
            row,
            key=["idempotency_key"],
            returning=[
                _action_logs.c.status,
                _action_logs.c.response_data,
                _action_logs.c.error_message,
            ],
        )
    return None if recorded.created else recorded.row


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
