"""Rows that record what happened: event_logs, ai_performance_metrics, ai_error_logs.

Builders return plain dicts (redacted where they carry payloads); ``write`` inserts a batch of
every kind in one statement. Callers put them in the same transaction as the state change they
describe; ``worker.durable.journal`` writes a run's steps with the same batches.
"""

from __future__ import annotations

import traceback
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from models import (
    AIErrorLog,
    AIPerformanceMetric,
    ErrorSeverity,
    EventLog,
    EventType,
)
from worker.durable.row_batches import RowBatch
from worker.security.redact import scrub, scrub_text


@dataclass(frozen=True)
class Scope:
    """Where a record belongs."""

    tenant_id: uuid.UUID | None
    task_id: uuid.UUID | None = None
    agent_run_id: uuid.UUID | None = None
    workflow_execution_id: uuid.UUID | None = None
    agent_id: uuid.UUID | None = None
    agent_name: str | None = None


def event(
    scope: Scope,
    event_type: EventType,
    content: str | None = None,
    data: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "tenant_id": scope.tenant_id,
        "task_id": scope.task_id,
        "agent_run_id": scope.agent_run_id,
        "workflow_execution_id": scope.workflow_execution_id,
        "event_type": event_type,
        "agent_role": scope.agent_name,
        "content": scrub_text(content) if content else content,
        "data": scrub(dict(data)) if data is not None else None,
    }


def error_log(
    scope: Scope,
    *,
    error_type: str,
    message: str,
    severity: ErrorSeverity,
    context: Mapping[str, Any] | None = None,
    error: BaseException | None = None,
    workflow_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    stack = (
        "".join(traceback.format_exception(type(error), error, error.__traceback__))
        if error is not None
        else None
    )
    return {
        "tenant_id": scope.tenant_id,
        "agent_id": scope.agent_id,
        "workflow_id": workflow_id,
        "task_id": scope.task_id,
        "error_type": error_type,
        "error_message": scrub_text(message),
        "error_context": scrub(dict(context or {})),
        "stack_trace": scrub_text(stack) if stack else None,
        "severity": severity,
    }


EVENTS = RowBatch(
    EventLog.__table__,  # type: ignore[arg-type]
    (
        "tenant_id",
        "task_id",
        "agent_run_id",
        "workflow_execution_id",
        "event_type",
        "agent_role",
        "content",
        "data",
    ),
)
METRICS = RowBatch(
    AIPerformanceMetric.__table__,  # type: ignore[arg-type]
    (
        "tenant_id",
        "agent_id",
        "metric_category",
        "metric_name",
        "metric_value",
        "measurement_context",
        "measurement_timestamp",
    ),
)
ERRORS = RowBatch(
    AIErrorLog.__table__,  # type: ignore[arg-type]
    (
        "tenant_id",
        "agent_id",
        "workflow_id",
        "task_id",
        "error_type",
        "error_message",
        "error_context",
        "stack_trace",
        "severity",
    ),
)
_WRITE = sa.select(sa.literal(1)).add_cte(
    EVENTS.insert("events").cte("events"),
    METRICS.insert("metrics").cte("metrics"),
    ERRORS.insert("errors").cte("errors"),
)


def write(
    connection: sa.Connection,
    *,
    events: Sequence[Mapping[str, Any]] = (),
    metrics: Sequence[Mapping[str, Any]] = (),
    errors: Sequence[Mapping[str, Any]] = (),
) -> None:
    if events or metrics or errors:
        connection.execute(
            _WRITE,
            {
                "events": EVENTS.payload(events),
                "metrics": METRICS.payload(metrics),
                "errors": ERRORS.payload(errors),
            },
        )


def now() -> datetime:
    return datetime.now(UTC)
