"""Cancelling the pending approvals of a task or a workflow execution that is being cancelled
or has failed, in the caller's transaction.

Nothing is woken and nothing is audited here: the caller is ending what the approvals gate,
and records that itself. A cancelled approval can no longer be decided.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from models import Approval, ApprovalStatus
from worker.durable.states import APPROVAL

_approvals = Approval.__table__


def cancel_pending(
    connection: sa.Connection,
    *,
    task_id: uuid.UUID | None = None,
    execution_id: uuid.UUID | None = None,
    reason: str,
) -> int:
    """Cancel the pending approvals of the task (or else of the execution); returns how many."""
    if task_id is None and execution_id is None:
        raise ValueError("cancel_pending needs a task_id or an execution_id")
    target = (
        _approvals.c.task_id == task_id
        if task_id is not None
        else _approvals.c.workflow_execution_id == execution_id
    )
    cancelled = APPROVAL.apply_all(
        connection,
        ApprovalStatus.CANCELLED,
        where=[target],
        values={"decided_at": sa.func.now(), "decision_comment": reason},
    )
    return len(cancelled)
