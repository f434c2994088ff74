"""``workflows.start`` and ``workflows.advance`` (see worker/core/contract.py)."""

from __future__ import annotations

from typing import Any

from celery import Task
from sqlalchemy.exc import InterfaceError, OperationalError

from worker.app import app
from worker.app.handlers import handle_advance_workflow, handle_start_workflow
from worker.app.process import process_runtime

_RETRY_ON_DATABASE_ERRORS: dict[str, Any] = {
    "autoretry_for": (OperationalError, InterfaceError),  # the database is unreachable
    "retry_backoff": 2,
    "retry_backoff_max": 60,
    "retry_jitter": True,
    "max_retries": 10,
}


@app.task(name="workflows.start", bind=True, acks_late=True, **_RETRY_ON_DATABASE_ERRORS)
def start(self: Task, **payload: Any) -> dict[str, str]:
    return handle_start_workflow(process_runtime(), payload, self.request.id)


@app.task(name="workflows.advance", acks_late=True, **_RETRY_ON_DATABASE_ERRORS)
def advance(**payload: Any) -> dict[str, str]:
    return handle_advance_workflow(process_runtime(), payload)
