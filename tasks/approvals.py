"""``approvals.resolve``: decide a pending approval (see worker/core/contract.py)."""

from __future__ import annotations

from typing import Any

from worker.app import app
from worker.app.handlers import handle_resolve_approval
from worker.app.process import process_runtime


@app.task(name="approvals.resolve", acks_late=True)
def resolve(**payload: Any) -> dict[str, str]:
    return handle_resolve_approval(process_runtime(), payload)
