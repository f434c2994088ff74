"""Cancelling a task or a workflow execution.

The row moves to CANCELLED at once and its pending approvals are cancelled; work in flight stops
at its next checkpoint (the runner's lease check fails once the task is no longer RUNNING).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

import sqlalchemy as sa

from models import AgentRun, AgentRunStatus, AIWorkflowExecution, EventType, Task, TaskStatus
from worker.approvals.service import cancel_pending
from worker.core.contract import ADVANCE_WORKFLOW
from worker.core.errors import AgentWorkerError
from worker.durable import records
from worker.durable.publishing import Publisher, Wake
from worker.durable.states import AGENT_RUN, TASK
from worker.workflows.engine import cancel_execution

_tasks = Task.__table__


class NothingToCancel(AgentWorkerError):
    code = "not_found"


@dataclass(frozen=True)
class Cancelled:
    kind: Literal["task", "execution"]
    id: uuid.UUID
    changed: bool  # False: it had already ended


def cancel(
    engine: sa.Engine,
    publisher: Publisher,
    target: uuid.UUID | str,
    *,
    reason: str = "cancelled by an operator",
) -> Cancelled:
    """Cancel the task or workflow execution with this id."""
    try:
        target_id = target if isinstance(target, uuid.UUID) else uuid.UUID(target)
    except ValueError:
        raise NothingToCancel(f"'{target}' is not a task or execution id (a UUID)") from None
    with engine.connect() as connection:
        is_task = connection.execute(
            sa.select(_tasks.c.id).where(_tasks.c.id == target_id)
        ).scalar_one_or_none()
        is_execution = connection.execute(
            sa.select(AIWorkflowExecution.id).where(AIWorkflowExecution.id == target_id)
        ).scalar_one_or_none()
    if is_task is not None:
        return Cancelled("task", target_id, cancel_task(engine, publisher, target_id, reason))
    if is_execution is not None:
        return Cancelled("execution", target_id, cancel_execution(engine, target_id, reason=reason))
    raise NothingToCancel(f"no task or workflow execution {target_id}")


def cancel_task(engine: sa.Engine, publisher: Publisher, task_id: uuid.UUID, reason: str) -> bool:
    wakes: list[Wake] = []
    with engine.begin() as connection:
        moved = TASK.apply(
            connection,
            task_id,
            TaskStatus.CANCELLED,
            values={"finished_at": sa.func.now(), "error": reason, "error_code": "cancelled"},
            returning=[_tasks.c.tenant_id, _tasks.c.workflow_execution_id],
        )
        if moved is None:
            return False
        cancel_pending(connection, task_id=task_id, reason=reason)
        idle_runs = connection.scalars(
            sa.select(AgentRun.id).where(
                AgentRun.task_id == task_id,
                AgentRun.status.in_([AgentRunStatus.STARTED, AgentRunStatus.WAITING_APPROVAL]),
            )
        ).all()
        for run_id in idle_runs:  # nothing is running them: cancel them here
            AGENT_RUN.apply(
                connection, run_id, AgentRunStatus.CANCELLED, values={"finished_at": sa.func.now()}
            )
        records.write(
            connection,
            events=[
                records.event(
                    records.Scope(moved.tenant_id, task_id),
                    EventType.SYSTEM,
                    f"cancelled: {reason}",
                )
            ],
        )
        if moved.workflow_execution_id is not None:
            wakes.append(Wake(ADVANCE_WORKFLOW, {"execution_id": str(moved.workflow_execution_id)}))
    for wake in wakes:
        wake.send(publisher)
    return True
