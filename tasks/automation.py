"""Automation rules: the beat sweep that fires them (``worker.automation.sweep``)."""

from __future__ import annotations

from tasks.options import RETRY_ON_DATABASE_ERRORS
from worker.app import app
from worker.app.process import process_runtime
from worker.automation.sweep import sweep as sweep_rules
from worker.automation.task_names import SWEEP


@app.task(name=SWEEP, ignore_result=True, **RETRY_ON_DATABASE_ERRORS)
def sweep() -> dict[str, int]:
    runtime = process_runtime()
    report = sweep_rules(runtime.engine, runtime.publisher, runtime.settings)
    return {"events_read": report.events_read, "repeated": report.repeated, **report.firings}
