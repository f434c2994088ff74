"""``workflows.start`` and ``workflows.advance`` (see worker/core/contract.py)."""

from __future__ import annotations

from typing import Any

from celery import Task

from tasks.options import RETRY_ON_DATABASE_ERRORS
from worker.app import app
from worker.app.handlers import handle_advance_workflow, handle_start_workflow
from worker.app.process import process_runtime
from worker.app.scoping import message_scope


@app.task(name="workflows.start", bind=True, **RETRY_ON_DATABASE_ERRORS)
def start(self: Task, **payload: Any) -> dict[str, str]:
    runtime = process_runtime()
    with message_scope(runtime.engine, "workflows.start", payload):
        return handle_start_workflow(runtime, payload, self.request.id)


@app.task(name="workflows.advance", **RETRY_ON_DATABASE_ERRORS)
def advance(**payload: Any) -> dict[str, str]:
    runtime = process_runtime()
    with message_scope(runtime.engine, "workflows.advance", payload):
        return handle_advance_workflow(runtime, payload)
