"""``maintenance.reap``: re-publish stranded work (run by Celery beat)."""

from __future__ import annotations

from worker.app import app
from worker.reaper import reap as reap_stranded_work
from worker.runtime import process_runtime


@app.task(name="maintenance.reap", ignore_result=True)
def reap() -> dict[str, int]:
    report = reap_stranded_work(process_runtime())
    return {
        "requeued_after_lost_worker": report.requeued_after_lost_worker,
        "republished_pending": report.republished_pending,
    }
