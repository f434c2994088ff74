"""Periodic upkeep, run by Celery beat: re-publish stranded work, expire approvals, apply
retention, fold settled history into the metrics totals; and the probes the reaper sends
through the task queue to tell lost messages from queued ones."""

from __future__ import annotations

from typing import Any

from celery import Task

from tasks.options import RETRY_ON_DATABASE_ERRORS
from worker.app import app
from worker.app.process import process_runtime
from worker.approvals.expiry import expire_due
from worker.durable.queue_probes import QUEUE_PROBE, record_probe_delivery
from worker.durable.reaper import reap as reap_stranded_work
from worker.ops.agent_performance import aggregate_agent_performance
from worker.ops.metrics_folding import fold_settled_history
from worker.ops.retention.sweep import run_retention


@app.task(name="maintenance.reap", ignore_result=True)
def reap() -> dict[str, int]:
    runtime = process_runtime()
    report = reap_stranded_work(
        runtime.engine,
        runtime.publisher,
        stale_after_seconds=runtime.settings.pending_republish_seconds,
        lost_wake_seconds=runtime.settings.lost_wake_seconds,
    )
    return {
        "requeued_after_lost_worker": report.requeued_after_lost_worker,
        "republished_pending": report.republished_pending,
        "advanced_executions": report.advanced_executions,
        "probes_sent": report.probes_sent,
    }


@app.task(name="maintenance.retention", ignore_result=True)
def retention() -> dict[str, int]:
    """Delete what the retention policies no longer keep (worker.ops.retention); the rows
    deleted per policy."""
    return run_retention(process_runtime().engine).by_policy()


@app.task(name="maintenance.fold_metrics", ignore_result=True)
def fold_metrics() -> dict[str, int]:
    """Fold settled tasks and latency rows into the fleet's retained totals
    (worker.ops.metrics_folding), so a scrape reads live rows only."""
    report = fold_settled_history(process_runtime().engine)
    return {"tasks": report.tasks, "latency_rows": report.latency_rows}


@app.task(name="maintenance.expire_approvals", ignore_result=True)
def expire_approvals() -> dict[str, int]:
    runtime = process_runtime()
    return {"expired": expire_due(runtime.engine, runtime.publisher)}


@app.task(name="maintenance.aggregate_agent_performance", ignore_result=True)
def aggregate_performance() -> dict[str, int]:
    """ai_agent_performance for yesterday and today (UTC), replacing those days' rows."""
    report = aggregate_agent_performance(process_runtime().engine)
    return {"tenants": report.tenants, "agents": report.agents, "rows": report.rows}


# Acked on receipt: a probe whose worker dies is not handed out again (it would prove nothing),
# the reaper sends another. A retry after a database error is published anew, behind what the
# probe was sent after, so it still proves what it claims.
@app.task(
    name=QUEUE_PROBE,
    bind=True,
    ignore_result=True,
    **{**RETRY_ON_DATABASE_ERRORS, "acks_late": False},
)
def queue_probe(self: Task, **payload: Any) -> dict[str, bool]:
    redelivered = bool((self.request.delivery_info or {}).get("redelivered"))
    recorded = record_probe_delivery(process_runtime().engine, payload, redelivered=redelivered)
    return {"recorded": recorded}
