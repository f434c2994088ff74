"""Prometheus metrics, computed from PostgreSQL when scraped.

PostgreSQL is the source of truth, so the figures are read from it at scrape time rather than
counted in each worker process: they are right whatever the number of workers, survive their
restarts, and one exporter (``agentworker metrics``) serves them for the whole deployment.

One scrape is one query of aggregates (a few
milliseconds on small tables; ``statement_timeout`` bounds it on large ones):

==================================================  ==========  ================================
metric                                              type        from
==================================================  ==========  ================================
``agentworker_tasks{status}``                       gauge       ``tasks`` by status
``agentworker_workflow_executions{status}``         gauge       ``ai_workflow_executions``
``agentworker_llm_calls_total``                     counter     sum of ``agent_runs.llm_calls``
``agentworker_llm_tokens_total{kind}``              counter     ``prompt`` / ``completion``
``agentworker_llm_cost_usd_total``                  counter     sum of ``agent_runs.cost``
``agentworker_llm_latency_seconds{call}``           histogram   LLM latency rows of
                                                                ``ai_performance_metrics``
``agentworker_llm_retries_total``                   counter     failed LLM attempts (the same
                                                                rows, ``ok`` false)
``agentworker_approvals_pending``                   gauge       pending ``approvals``
``agentworker_approval_oldest_pending_age_seconds`` gauge       their oldest ``created_at``
``agentworker_retention_deleted_rows_total{policy}`` counter     rows retention deleted
``agentworker_metrics_database_up``                 gauge       1, or 0 when the queries failed
``agentworker_metrics_scrape_duration_seconds``     gauge       how long the queries took
==================================================  ==========  ================================

The counters are sums over rows. Retention (``worker.ops.retention``) deletes old rows, so each
of its batches first adds what its rows contributed to ``retained_totals`` (migration 0012) and
the figures are live rows plus those totals: the LLM counters, the latency histogram and the
final statuses of ``agentworker_tasks`` (SUCCEEDED, FAILED, CANCELLED: every task that ever
ended so) do not drop when history is pruned. The other gauges (open tasks, executions,
pending approvals) count what exists now. Deleting a tenant (its cascade) still lowers them;
Prometheus treats that like a counter reset. The latency histogram covers every recorded
attempt (a histogram's counts must only grow), one pass over the LLM latency rows per scrape.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from wsgiref.simple_server import WSGIServer

import sqlalchemy as sa
from prometheus_client import CollectorRegistry, generate_latest, start_http_server
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.utils import floatToGoString

from models import (
    AgentRun,
    AIPerformanceMetric,
    AIWorkflowExecution,
    Approval,
    ExecutionStatus,
    Task,
    TaskStatus,
)

__all__ = [
    "LATENCY_BUCKETS_SECONDS",
    "LATENCY_PREFIX",
    "LATENCY_SUFFIX",
    "DatabaseCollector",
    "MetricsServer",
    "MetricsSnapshot",
    "latency_bounds_ms",
    "metrics_registry",
    "read_snapshot",
    "render_metrics",
    "serve_metrics",
]

log = logging.getLogger(__name__)

#: Upper bounds (seconds) of the LLM latency histogram's buckets; +Inf is added.
LATENCY_BUCKETS_SECONDS: tuple[float, ...] = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
#: The ``call`` label always present, so dashboards see zeros rather than no series.
_DEFAULT_CALLS = ("chat",)
#: LLM latency rows are named ``llm.<call>.latency_ms`` (``worker.llm.attempt_records``).
LATENCY_PREFIX, LATENCY_SUFFIX = "llm.", ".latency_ms"
_LATENCY_PREFIX, _LATENCY_SUFFIX = LATENCY_PREFIX, LATENCY_SUFFIX


def latency_bounds_ms() -> list[Decimal]:
    """The histogram's bounds in milliseconds, as the fleet metrics function takes them (and
    retention folds deleted rows into them, so the labels match exactly)."""
    return [Decimal(str(bound)) * 1000 for bound in LATENCY_BUCKETS_SECONDS]


_tasks = Task.__table__
_runs = AgentRun.__table__
_metrics = AIPerformanceMetric.__table__
_approvals = Approval.__table__
_executions = AIWorkflowExecution.__table__


# --- reading ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LatencyHistogram:
    """Cumulative counts: ``buckets[i]`` attempts took at most ``LATENCY_BUCKETS_SECONDS[i]``."""

    buckets: tuple[int, ...]
    count: int
    sum_seconds: float


@dataclass(frozen=True)
class MetricsSnapshot:
    tasks: dict[str, int]
    workflow_executions: dict[str, int]
    llm_calls: int
    prompt_tokens: int
    completion_tokens: int
    cost_usd: Decimal
    latency: dict[str, LatencyHistogram]  # by call ("chat", …)
    llm_failed_attempts: int
    approvals_pending: int
    approval_oldest_pending_age_seconds: float
    #: Rows retention deleted, by policy (``worker.ops.retention``).
    retention_deleted: dict[str, int] = field(default_factory=dict)
    #: Each budgeted (or spending) tenant's LLM spend in the current UTC day and month.
    tenant_spend: list[TenantPeriodSpend] = field(default_factory=list)


@dataclass(frozen=True)
class TenantPeriodSpend:
    tenant: str
    period: str
    spent_usd: Decimal
    llm_calls: int
    #: The configured limit (None: none) and what approvers granted above it.
    budget_usd: Decimal | None
    granted_usd: Decimal


def read_snapshot(connection: sa.Connection) -> MetricsSnapshot:
    """Every figure of the whole fleet, read on ``connection`` in two queries (run it in one
    transaction for a consistent view). The figures span every tenant, which row-level
    security hides from any one connection, so they come from one ``SECURITY DEFINER``
    function that returns aggregates only (migration 0007)."""
    bounds_ms = latency_bounds_ms()
    rows = connection.execute(
        sa.text("SELECT figure, label, value FROM agentworker_fleet_metrics(:p, :s, :b)"),
        {"p": _LATENCY_PREFIX, "s": _LATENCY_SUFFIX, "b": bounds_ms},
    ).all()
    figures: dict[str, dict[str, Decimal]] = {}
    for figure, label, value in rows:
        figures.setdefault(figure, {})[label] = Decimal(value)

    def total(figure: str) -> Decimal:
        return figures.get(figure, {}).get("", Decimal(0))

    def by_status(figure: str, statuses: Sequence[str]) -> dict[str, int]:
        counts = dict.fromkeys(statuses, 0)
        counts.update((status, int(n)) for status, n in figures.get(figure, {}).items())
        return counts

    return MetricsSnapshot(
        tasks=by_status("tasks", [s.value for s in TaskStatus]),
        workflow_executions=by_status("executions", [s.value for s in ExecutionStatus]),
        llm_calls=int(total("llm_calls")),
        prompt_tokens=int(total("prompt_tokens")),
        completion_tokens=int(total("completion_tokens")),
        cost_usd=total("cost"),
        latency=_latency(figures, bounds_ms),
        llm_failed_attempts=int(sum(figures.get("latency_failed", {}).values())),
        approvals_pending=int(total("approvals_pending")),
        approval_oldest_pending_age_seconds=max(0.0, float(total("approval_oldest_pending_age"))),
        retention_deleted={
            policy: int(n) for policy, n in sorted(figures.get("retention_deleted", {}).items())
        },
        tenant_spend=[
            TenantPeriodSpend(*row)
            for row in connection.execute(sa.text("SELECT * FROM agentworker_tenant_spend_now()"))
        ],
    )


def _latency(
    figures: dict[str, dict[str, Decimal]], bounds_ms: Sequence[Decimal]
) -> dict[str, LatencyHistogram]:
    empty = LatencyHistogram((0,) * len(LATENCY_BUCKETS_SECONDS), 0, 0.0)
    histograms = dict.fromkeys(_DEFAULT_CALLS, empty)
    buckets = figures.get("latency_bucket", {})
    for name, count in figures.get("latency_count", {}).items():
        call = name[len(_LATENCY_PREFIX) : -len(_LATENCY_SUFFIX)]
        histograms[call] = LatencyHistogram(
            tuple(int(buckets.get(f"{name} {bound}", 0)) for bound in bounds_ms),
            int(count),
            float(figures["latency_sum_ms"][name]) / 1000,
        )
    return histograms


# --- exposing ---------------------------------------------------------------------------------


class DatabaseCollector:
    """A prometheus_client collector that reads a ``MetricsSnapshot`` on every scrape.

    A database that cannot be read gives ``agentworker_metrics_database_up 0`` (and a warning
    in the log) instead of a failed scrape, so an alert can say what is wrong.
    """

    def __init__(self, engine: sa.Engine, *, statement_timeout_ms: int = 5000) -> None:
        self.engine = engine
        self.statement_timeout_ms = statement_timeout_ms
        #: Whether the last scrape could read the database (None before the first).
        self.up: bool | None = None

    def describe(self) -> Iterator[Metric]:
        """The metric names, without touching the database (for registration)."""
        snapshot = MetricsSnapshot(
            tasks={},
            workflow_executions={},
            llm_calls=0,
            prompt_tokens=0,
            completion_tokens=0,
            cost_usd=Decimal(0),
            latency={},
            llm_failed_attempts=0,
            approvals_pending=0,
            approval_oldest_pending_age_seconds=0,
        )
        yield from _families(snapshot)
        yield from _health(up=True, seconds=0)

    def collect(self) -> Iterator[Metric]:
        started = time.perf_counter()
        try:
            snapshot = self.read()
        except sa.exc.SQLAlchemyError as error:
            log.warning(
                "metrics: cannot read the database: %s",
                error,
                extra={"error": type(error).__name__},
            )
            self.up = False
            yield from _health(up=False, seconds=time.perf_counter() - started)
            return
        self.up = True
        yield from _families(snapshot)
        yield from _health(up=True, seconds=time.perf_counter() - started)

    def read(self) -> MetricsSnapshot:
        with self.engine.connect() as connection, connection.begin():
            connection.execute(
                sa.text("SELECT set_config('statement_timeout', :ms, true)"),
                {"ms": str(self.statement_timeout_ms)},
            )
            return read_snapshot(connection)


def _families(s: MetricsSnapshot) -> Iterator[Metric]:
    tasks = GaugeMetricFamily("agentworker_tasks", "Tasks by status.", labels=["status"])
    for status, count in s.tasks.items():
        tasks.add_metric([status], count)
    yield tasks

    executions = GaugeMetricFamily(
        "agentworker_workflow_executions", "Workflow executions by status.", labels=["status"]
    )
    for status, count in s.workflow_executions.items():
        executions.add_metric([status], count)
    yield executions

    yield CounterMetricFamily(
        "agentworker_llm_calls", "LLM calls made by agent runs.", value=s.llm_calls
    )
    tokens = CounterMetricFamily(
        "agentworker_llm_tokens", "LLM tokens used by agent runs.", labels=["kind"]
    )
    tokens.add_metric(["prompt"], s.prompt_tokens)
    tokens.add_metric(["completion"], s.completion_tokens)
    yield tokens
    yield CounterMetricFamily(
        "agentworker_llm_cost_usd",
        "LLM cost of agent runs in USD (AGENTWORKER_PRICE_TABLE).",
        value=float(s.cost_usd),
    )

    latency = HistogramMetricFamily(
        "agentworker_llm_latency_seconds",
        "Latency of LLM attempts (successful and failed), by call.",
        labels=["call"],
    )
    for call, histogram in sorted(s.latency.items()):
        buckets = [
            (floatToGoString(bound), count)
            for bound, count in zip(LATENCY_BUCKETS_SECONDS, histogram.buckets, strict=True)
        ]
        latency.add_metric(
            [call], [*buckets, ("+Inf", histogram.count)], sum_value=histogram.sum_seconds
        )
    yield latency
    yield CounterMetricFamily(
        "agentworker_llm_retries",
        "Failed LLM attempts (each is retried unless it was the last allowed).",
        value=s.llm_failed_attempts,
    )

    yield GaugeMetricFamily(
        "agentworker_approvals_pending", "Approvals waiting for a decision.", s.approvals_pending
    )
    yield GaugeMetricFamily(
        "agentworker_approval_oldest_pending_age_seconds",
        "How long the oldest pending approval has waited (0 when none waits).",
        s.approval_oldest_pending_age_seconds,
    )
    deleted = CounterMetricFamily(
        "agentworker_retention_deleted_rows",
        "Rows deleted by retention, by policy.",
        labels=["policy"],
    )
    for policy, count in s.retention_deleted.items():
        deleted.add_metric([policy], count)
    yield deleted
    yield from _tenant_budgets(s.tenant_spend)


def _tenant_budgets(spends: Sequence[TenantPeriodSpend]) -> Iterator[Metric]:
    labels = ["tenant", "period"]
    spent = GaugeMetricFamily(
        "agentworker_tenant_spend_usd",
        "A tenant's LLM spend in the current UTC day or month (budgeted tenants).",
        labels=labels,
    )
    budget = GaugeMetricFamily(
        "agentworker_tenant_budget_usd",
        "A tenant's LLM budget for the period, with approvers' grants.",
        labels=labels,
    )
    for row in spends:
        spent.add_metric([row.tenant, row.period], float(row.spent_usd))
        if row.budget_usd is not None:
            budget.add_metric([row.tenant, row.period], float(row.budget_usd + row.granted_usd))
    yield spent
    yield budget


def _health(*, up: bool, seconds: float) -> Iterator[Metric]:
    yield GaugeMetricFamily(
        "agentworker_metrics_database_up",
        "1 if the last scrape could read the database, else 0.",
        1 if up else 0,
    )
    yield GaugeMetricFamily(
        "agentworker_metrics_scrape_duration_seconds",
        "Time spent reading the database for this scrape.",
        seconds,
    )


def metrics_registry(source: sa.Engine | DatabaseCollector) -> CollectorRegistry:
    """A registry of its own (not prometheus_client's global one) with our collector."""
    registry = CollectorRegistry()
    registry.register(
        source if isinstance(source, DatabaseCollector) else DatabaseCollector(source)
    )
    return registry


def render_metrics(source: sa.Engine | DatabaseCollector) -> str:
    """The Prometheus text exposition, read now."""
    return generate_latest(metrics_registry(source)).decode()


@dataclass
class MetricsServer:
    """A running exposition endpoint; ``close()`` stops it."""

    httpd: WSGIServer
    thread: threading.Thread

    @property
    def host(self) -> str:
        return str(self.httpd.server_address[0])

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/metrics"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)

    def __enter__(self) -> MetricsServer:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def serve_metrics(engine: sa.Engine, host: str = "127.0.0.1", port: int = 9464) -> MetricsServer:
    """Serve the metrics over HTTP from a daemon thread (port 0 picks a free port)."""
    httpd, thread = start_http_server(port, addr=host, registry=metrics_registry(engine))
    return MetricsServer(httpd, thread)
