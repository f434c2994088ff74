"""``agents.run_task``: run one agent for one task (see worker/core/contract.py)."""

from __future__ import annotations

from typing import Any

from celery import Task

from tasks.options import RETRY_ON_DATABASE_ERRORS
from worker.app import app
from worker.app.handlers import handle_run_task
from worker.app.process import process_runtime
from worker.app.scoping import message_scope


@app.task(name="agents.run_task", bind=True, **RETRY_ON_DATABASE_ERRORS)
def run_task(self: Task, **payload: Any) -> dict[str, str]:
    runtime = process_runtime()
    with message_scope(runtime.engine, "agents.run_task", payload):
        outcome = handle_run_task(runtime, payload, self.request.id)
    return {"task_id": str(outcome.task_id), "status": outcome.status}
