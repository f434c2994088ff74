"""Periodic upkeep, run by Celery beat: re-publish stranded work, expire approvals; and the
probes the reaper sends through the task queue to tell lost messages from queued ones."""

from __future__ import annotations

from typing import Any

from celery import Task

from tasks.options import RETRY_ON_DATABASE_ERRORS
from worker.app import app
from worker.app.process import process_runtime
from worker.approvals.expiry import expire_due
from worker.durable.queue_probes import QUEUE_PROBE, record_probe_delivery
from worker.durable.reaper import reap as reap_stranded_work


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


@app.task(name="maintenance.expire_approvals", ignore_result=True)
def expire_approvals() -> dict[str, int]:
    runtime = process_runtime()
    return {"expired": expire_due(runtime.engine, runtime.publisher)}


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
