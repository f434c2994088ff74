"""``approvals.resolve``: decide a pending approval (see worker/contract.py)."""

from __future__ import annotations

from typing import Any

from worker.app import app
from worker.handlers import handle_resolve_approval
from worker.runtime import process_runtime


@app.task(name="approvals.resolve", acks_late=True)
def resolve(**payload: Any) -> dict[str, str]:
    return handle_resolve_approval(process_runtime(), payload)
