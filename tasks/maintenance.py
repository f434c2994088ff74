"""Periodic upkeep, run by Celery beat: re-publish stranded work, expire approvals."""

from __future__ import annotations

from worker.app import app
from worker.app.process import process_runtime
from worker.approvals.expiry import expire_due
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
    }


@app.task(name="maintenance.expire_approvals", ignore_result=True)
def expire_approvals() -> dict[str, int]:
    runtime = process_runtime()
    return {"expired": expire_due(runtime.engine, runtime.publisher)}
