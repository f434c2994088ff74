"""Seed 001's ``ai_agent_performance``: per agent, tenant and UTC day, figures computed from our
own rows, run periodically by ``maintenance.aggregate_agent_performance`` (Celery beat) for
yesterday and today.

=====================  ===========================================================================
metric_name            from
=====================  ===========================================================================
``runs``               ``agent_runs`` started that day
``finished_runs``      of those, COMPLETED, FAILED or CANCELLED
``success_rate``       COMPLETED / finished (0-1; no row when none finished)
``avg_run_seconds``    mean ``finished_at - started_at`` of the finished runs
``llm_calls``          sum of ``agent_runs.llm_calls``
``llm_latency_ms``     mean of the agent's LLM latency rows of ``ai_performance_metrics`` that day
``kilotokens``         (prompt + completion tokens) / 1000, exact to the token (the column is
                       ``DECIMAL(10,4)``); the token counts themselves are in ``context``
``cost_usd``           sum of ``agent_runs.cost``
=====================  ===========================================================================

``measurement_date`` is the day's midnight (UTC) and ``context.source`` is ``daily_aggregate``.
Aggregating a day again replaces that day's rows in one transaction (under an advisory lock per
tenant and day, so two sweeps never double them); rows written by anything else are untouched.

The same sweep keeps ``content_templates.success_rate`` right (``refresh_template_success``):
approved / proposed ``save_draft_content`` calls that named the template, recomputed from the
approvals on every run (``worker.agents.tools.templates.proposal_counts``): a tenant's own
templates in its scope, the system-wide ones from every tenant's counts, summed. A template
with no decided proposal keeps its rate.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from models import (
    AgentRun,
    AgentRunStatus,
    AIAgentPerformance,
    AIPerformanceMetric,
    MetricCategory,
    Tenant,
)
from models.tenant_scope import tenant_scope
from worker.agents.tools.templates import (
    proposal_counts,
    shared_template_ids,
    write_success_rates,
)

SOURCE = "daily_aggregate"
_FINISHED = (AgentRunStatus.COMPLETED, AgentRunStatus.FAILED, AgentRunStatus.CANCELLED)
_MAX = Decimal("999999.9999")
_performance = AIAgentPerformance.__table__


@dataclass(frozen=True)
class AggregationReport:
    days: tuple[date, ...]
    tenants: int
    agents: int
    rows: int
    #: content_templates whose success_rate was written.
    templates: int = 0


def aggregate_agent_performance(
    engine: sa.Engine, days: Iterable[date] | None = None
) -> AggregationReport:
    """Aggregate each of ``days`` (default: yesterday and today, UTC) for every tenant, each in
    its own scope (row-level security)."""
    if days is None:
        today = datetime.now(UTC).date()
        days = (today - timedelta(days=1), today)
    chosen = tuple(days)
    with engine.connect() as connection:
        tenants = list(connection.execute(sa.select(Tenant.id)).scalars())
    agents = rows = 0
    for tenant_id in tenants:
        with tenant_scope(tenant_id):
            for day in chosen:
                with engine.begin() as connection:
                    found, written = aggregate_day(connection, tenant_id, day)
                agents += found
                rows += written
    templates = refresh_template_success(engine, tenants)
    return AggregationReport(chosen, len(tenants), agents, rows, templates)


def refresh_template_success(engine: sa.Engine, tenants: Iterable[uuid.UUID]) -> int:
    """Write every proposed template's ``success_rate``; how many were written. ``tenants``
    must be all of them, or a system-wide template's rate would count only some."""
    shared: dict[uuid.UUID, tuple[int, int]] = {}
    written = 0
    for tenant_id in tenants:
        with tenant_scope(tenant_id), engine.begin() as connection:
            counts = proposal_counts(connection, tenant_id)
            common = shared_template_ids(connection, counts)
            written += write_success_rates(
                connection, {k: v for k, v in counts.items() if k not in common}
            )
        for template_id in common:
            approved, proposed = counts[template_id]
            before = shared.get(template_id, (0, 0))
            shared[template_id] = (before[0] + approved, before[1] + proposed)
    # System-wide rows (NULL tenant) are visible and writable outside every tenant's scope.
    with tenant_scope(None), engine.begin() as connection:
        written += write_success_rates(connection, shared)
    return written


def aggregate_day(connection: sa.Connection, tenant_id: uuid.UUID, day: date) -> tuple[int, int]:
    """Replace ``tenant_id``'s aggregate rows of ``day``; (agents, rows written)."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    end = start + timedelta(days=1)
    connection.execute(
        sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
        {"key": f"ai_agent_performance:{tenant_id}:{day.isoformat()}"},
    )
    connection.execute(
        sa.delete(_performance).where(
            _performance.c.tenant_id == tenant_id,
            _performance.c.measurement_date == start,
            _performance.c.context["source"].astext == SOURCE,
        )
    )
    latency: dict[uuid.UUID, Decimal] = dict(
        connection.execute(
            sa.select(AIPerformanceMetric.agent_id, sa.func.avg(AIPerformanceMetric.metric_value))
            .where(
                AIPerformanceMetric.tenant_id == tenant_id,
                AIPerformanceMetric.agent_id.is_not(None),
                AIPerformanceMetric.metric_category == MetricCategory.LATENCY,
                AIPerformanceMetric.metric_name.like("llm.%"),
                AIPerformanceMetric.measurement_timestamp >= start,
                AIPerformanceMetric.measurement_timestamp < end,
            )
            .group_by(AIPerformanceMetric.agent_id)
        ).all()
    )
    finished = AgentRun.status.in_(_FINISHED)
    runs = connection.execute(
        sa.select(
            AgentRun.agent_id,
            sa.func.count().label("runs"),
            sa.func.count().filter(finished).label("finished"),
            sa.func.count().filter(AgentRun.status == AgentRunStatus.COMPLETED).label("ok"),
            sa.func.avg(sa.extract("epoch", AgentRun.finished_at - AgentRun.started_at))
            .filter(finished, AgentRun.finished_at.is_not(None))
            .label("seconds"),
            sa.func.sum(AgentRun.llm_calls).label("llm_calls"),
            sa.func.sum(AgentRun.prompt_tokens).label("prompt_tokens"),
            sa.func.sum(AgentRun.completion_tokens).label("completion_tokens"),
            sa.func.sum(AgentRun.cost).label("cost"),
        )
        .where(
            AgentRun.tenant_id == tenant_id,
            AgentRun.agent_id.is_not(None),
            AgentRun.started_at >= start,
            AgentRun.started_at < end,
        )
        .group_by(AgentRun.agent_id)
    ).all()
    values: list[dict[str, Any]] = []
    for run in runs:
        tokens = int(run.prompt_tokens or 0) + int(run.completion_tokens or 0)
        context = {
            "source": SOURCE,
            "day": day.isoformat(),
            "prompt_tokens": int(run.prompt_tokens or 0),
            "completion_tokens": int(run.completion_tokens or 0),
        }
        figures: dict[str, Any] = {
            "runs": run.runs,
            "finished_runs": run.finished,
            "success_rate": Decimal(run.ok) / Decimal(run.finished) if run.finished else None,
            "avg_run_seconds": run.seconds,
            "llm_calls": run.llm_calls or 0,
            "llm_latency_ms": latency.get(run.agent_id),
            "kilotokens": Decimal(tokens) / 1000,
            "cost_usd": run.cost or 0,
        }
        values += [
            {
                "tenant_id": tenant_id,
                "agent_id": run.agent_id,
                "metric_name": name,
                "metric_value": _bounded(value),
                "measurement_date": start,
                "context": context,
            }
            for name, value in figures.items()
            if value is not None
        ]
    if values:
        connection.execute(sa.insert(_performance), values)
    return len(runs), len(values)


def _bounded(value: Any) -> Decimal:
    number = Decimal(str(value)).quantize(Decimal("0.0001"))
    return min(number, _MAX)
