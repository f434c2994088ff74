"""``workflows.start`` and ``workflows.advance`` (see worker/core/contract.py)."""

from __future__ import annotations

from typing import Any

from celery import Task

from tasks.options import RETRY_ON_DATABASE_ERRORS
from worker.app import app
from worker.app.handlers import handle_advance_workflow, handle_start_workflow
from worker.app.process import process_runtime


@app.task(name="workflows.start", bind=True, **RETRY_ON_DATABASE_ERRORS)
def start(self: Task, **payload: Any) -> dict[str, str]:
    return handle_start_workflow(process_runtime(), payload, self.request.id)


@app.task(name="workflows.advance", **RETRY_ON_DATABASE_ERRORS)
def advance(**payload: Any) -> dict[str, str]:
    return handle_advance_workflow(process_runtime(), payload)
