"""Accepting work: turn a payload into a tasks row, exactly once per idempotency key.

Both doors use it: our client (commit the row, then publish its id) and a raw ``send_task``
from a foreign service (the worker creates the row from the message). A payload that breaks
the contract becomes a FAILED task with a readable error and an ERROR event; one too broken to
name a tenant is kept, redacted, in ai_error_logs. Nothing is dropped.

With ``admission`` a new task goes through its tenant's window (``worker.durable.dispatch``):
it is written held and the tenant's window is filled in the same transaction; the caller
publishes ``Submitted.releases`` (which may name older held tasks, not this one) after the
commit. Without it (the default, for callers that publish what they create) the row is
released at once.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from models import ErrorSeverity, EventType, Task, TaskStatus
from worker.agents.definitions import find_agent
from worker.core.contract import RUN_TASK, RunTaskRequest
from worker.core.errors import AgentWorkerError
from worker.core.limits import InputTooLarge, check_size, storable
from worker.core.settings import Settings
from worker.core.tenants import resolve_tenant, tenant_named_by
from worker.durable import dispatch, records
from worker.durable.dispatch import Release
from worker.durable.rows import insert_once

_tasks = Task.__table__
__all__ = [
    "InputTooLarge",
    "Release",
    "Submitted",
    "create_task",
    "message_key",
    "record_rejected",
]


@dataclass(frozen=True)
class Submitted:
    task_id: uuid.UUID
    created: bool
    status: TaskStatus
    #: False while the task waits, held, behind its tenant's tasks in flight.
    released: bool = True
    #: Tasks this submission released (this one, or older held ones): publish after commit.
    releases: tuple[Release, ...] = ()


def message_key(message_id: str) -> str:
    """The idempotency key of a raw submission without one: its broker message id."""
    return f"message:{message_id}"


def create_task(
    connection: sa.Connection,
    settings: Settings,
    request: RunTaskRequest,
    *,
    idempotency_key: str | None,
    broker_message_id: str | None = None,
    admission: bool = False,
) -> Submitted:
    """Insert the task, or return the one that already has this idempotency key (unchanged,
    held or not). ``admission``: through the tenant's window (see the module's note)."""
    tenant_id = resolve_tenant(connection, request.tenant)
    limit = settings.max_input_bytes
    check_size(
        request.input,
        limit,
        what="input",
        instead="send a reference (e.g. a knowledge source) instead",
    )
    check_size(request.metadata, limit, what="metadata", instead="keep large data out of metadata")
    agent = find_agent(connection, tenant_id, request.agent)
    values = _task_values(tenant_id, request, idempotency_key, broker_message_id)
    values["agent_id"] = agent.id
    if not admission:
        return _insert_once(connection, values)
    values["released_at"] = None
    submitted = _insert_once(connection, values)
    if not submitted.created:
        return submitted
    releases = tuple(dispatch.fill_window(connection, tenant_id, settings.tenant_max_in_flight))
    released = any(r.task_id == submitted.task_id for r in releases)
    return Submitted(submitted.task_id, True, submitted.status, released, releases)


def record_rejected(
    connection: sa.Connection,
    payload: Any,
    error: AgentWorkerError,
    *,
    broker_message_id: str | None,
) -> Submitted | None:
    """Keep a payload that could not be accepted: a FAILED task if it names a known tenant,
    else an ai_error_logs row. Returns the task, if one was made."""
    fields = payload if isinstance(payload, Mapping) else {}
    tenant_id = tenant_named_by(connection, payload)
    if tenant_id is None:
        records.write(
            connection,
            errors=[
                records.error_log(
                    records.Scope(tenant_id=None),
                    error_type=f"submission.{error.code}",
                    message=str(error),
                    severity=ErrorSeverity.HIGH,
                    context={
                        "task": RUN_TASK,
                        "broker_message_id": broker_message_id,
                        "payload": _jsonable(storable(payload, error)),
                    },
                )
            ],
        )
        return None

    key = fields.get("idempotency_key")
    if not isinstance(key, str) or not key or len(key) > 255:
        key = message_key(broker_message_id) if broker_message_id else None
    agent = fields.get("agent")
    values = {
        "tenant_id": tenant_id,
        "title": _title(records.scrub(fields.get("input"))),
        "agent_name": agent[:200] if isinstance(agent, str) else None,
        "input_payload": records.scrub(_jsonable(storable(payload, error))),
        "status": TaskStatus.FAILED,
        "error": records.scrub(str(error)),
        "error_code": error.code,
        "idempotency_key": key,
        "broker_message_id": broker_message_id,
        "finished_at": sa.func.now(),
    }
    submitted = _insert_once(connection, values)
    if submitted.created:
        scope = records.Scope(tenant_id=tenant_id, task_id=submitted.task_id)
        records.write(
            connection,
            events=[
                records.event(
                    scope,
                    EventType.ERROR,
                    f"rejected: {error}",
                    {"code": error.code},
                )
            ],
        )
    return submitted


def _task_values(
    tenant_id: uuid.UUID,
    request: RunTaskRequest,
    key: str | None,
    message_id: str | None,
) -> dict[str, Any]:
    # Values that look secret never reach a row (nor, through these columns, the run's
    # messages); secret references ({"$secret": …}) are kept, so tools can still use them.
    safe_input = records.scrub(request.input)
    text_input = safe_input if isinstance(safe_input, str) else None
    return {
        "tenant_id": tenant_id,
        "title": _title(safe_input),
        "input_prompt": text_input,
        "input_payload": {"input": safe_input, **_budget_of(request)},
        "agent_name": request.agent,
        "idempotency_key": key,
        "priority": request.priority,
        "metadata": records.scrub(request.metadata),
        "broker_message_id": message_id,
        "queue": "agents",
    }


def _insert_once(connection: sa.Connection, values: dict[str, Any]) -> Submitted:
    inserted = insert_once(
        connection,
        _tasks,  # type: ignore[arg-type]
        values,
        key=["tenant_id", "idempotency_key"],
        returning=[_tasks.c.id, _tasks.c.status, _tasks.c.released_at],
    )
    row = inserted.row
    return Submitted(row.id, inserted.created, TaskStatus(row.status), row.released_at is not None)


def _title(value: Any) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    text = " ".join(text.split())
    return text if len(text) <= 120 else text[:119] + "…"


def _jsonable(value: Any) -> Any:
    try:
        return json.loads(json.dumps(value, default=repr))
    except (TypeError, ValueError):
        return repr(value)


def _budget_of(request: RunTaskRequest) -> dict[str, Any]:
    """The submission's run budget, as the task keeps it (``worker.agents.budgets``)."""
    if request.budget is None:
        return {}
    return {"budget": request.budget.model_dump(mode="json", exclude_none=True)}
