"""``approvals.resolve``: decide a pending approval (see worker/core/contract.py)."""

from __future__ import annotations

from typing import Any

from celery import Task

from tasks.options import RETRY_ON_DATABASE_ERRORS
from worker.app import app
from worker.app.handlers import handle_resolve_approval
from worker.app.process import process_runtime
from worker.app.scoping import message_scope


@app.task(name="approvals.resolve", bind=True, **RETRY_ON_DATABASE_ERRORS)
def resolve(self: Task, **payload: Any) -> dict[str, str]:
    runtime = process_runtime()
    with message_scope(runtime.engine, "approvals.resolve", payload):
        return handle_resolve_approval(runtime, payload, self.request.id)
