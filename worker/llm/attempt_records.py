"""Rows that record an LLM call's attempts: a latency metric each, an error log per failure."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from models import ErrorSeverity, MetricCategory
from worker.durable.records import Scope, error_log
from worker.llm.gateway import Attempt


def latency_metric(scope: Scope, attempt: Attempt, *, model: str, call: str) -> dict[str, Any]:
    return {
        "tenant_id": scope.tenant_id,
        "agent_id": scope.agent_id,
        "metric_category": MetricCategory.LATENCY,
        "metric_name": f"llm.{call}.latency_ms",
        "metric_value": Decimal(f"{min(attempt.latency_ms, 999_999):.4f}"),
        "measurement_context": {
            "model": model,
            "attempt": attempt.number,
            "ok": attempt.ok,
            "status_code": attempt.status_code,
            "task_id": str(scope.task_id) if scope.task_id else None,
        },
        "measurement_timestamp": attempt.started_at,
    }


def attempt_failure_log(scope: Scope, attempt: Attempt, *, model: str) -> dict[str, Any]:
    return error_log(
        scope,
        error_type=f"llm.{attempt.error_kind}",
        message=attempt.error_message or attempt.error_kind or "LLM call failed",
        severity=ErrorSeverity.MEDIUM,
        context={
            "model": model,
            "attempt": attempt.number,
            "status_code": attempt.status_code,
            "latency_ms": round(attempt.latency_ms, 1),
        },
    )
