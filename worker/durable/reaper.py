"""The reaper: nothing stays stranded (DESIGN §5.1).

Runs from Celery beat (``maintenance.reap``). A RUNNING task whose lease expired (its worker
died) goes back to PENDING and is re-published; a PENDING task that has waited too long (its
message was lost, e.g. a crash between commit and publish) is re-published. Duplicates are
harmless: a task is claimed by one conditional UPDATE.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa

from models import AIWorkflowExecution, EventType, ExecutionStatus, Task, TaskStatus
from worker.core.contract import ADVANCE_WORKFLOW, RUN_TASK
from worker.durable import records
from worker.durable.publishing import Publisher
from worker.durable.states import TASK

_tasks = Task.__table__
_executions = AIWorkflowExecution.__table__


@dataclass(frozen=True)
class ReapReport:
    requeued_after_lost_worker: int
    republished_pending: int
    advanced_executions: int


def reap(
    engine: sa.Engine, publisher: Publisher, *, stale_after_seconds: float, limit: int = 500
) -> ReapReport:
    """Re-queue what lost its worker, re-publish what waited ``stale_after_seconds``."""
    stale_after = timedelta(seconds=stale_after_seconds)
    with engine.begin() as connection:
        expired = TASK.apply_all(
            connection,
            TaskStatus.PENDING,
            sources=[TaskStatus.RUNNING],
            where=[
                _tasks.c.id.in_(
                    sa.select(_tasks.c.id)
                    .where(Task.status == TaskStatus.RUNNING, Task.lease_expires_at < sa.func.now())
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            ],
            values={"lease_owner": None, "lease_expires_at": None},
            returning=[_tasks.c.id, _tasks.c.tenant_id, _tasks.c.priority],
        )
        records.write(
            connection,
            events=[
                records.event(
                    records.Scope(row.tenant_id, row.id),
                    EventType.SYSTEM,
                    "the worker running this task stopped renewing its lease; re-queued",
                )
                for row in expired
            ],
        )
        stale = connection.execute(
            sa.update(_tasks)
            .where(
                _tasks.c.id.in_(
                    sa.select(_tasks.c.id)
                    .where(
                        Task.status == TaskStatus.PENDING,
                        sa.func.coalesce(Task.not_before, Task.updated_at)
                        < sa.func.now() - stale_after,
                    )
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            )
            .values(updated_at=sa.func.now())  # so it is not re-published again at once
            .returning(_tasks.c.id, _tasks.c.priority)
        ).all()
        # A workflow whose advance message was lost (a crash between a step's commit and its
        # publish) shows as a running execution that has not moved for a while.
        idle = (
            connection.execute(
                sa.update(_executions)
                .where(
                    _executions.c.id.in_(
                        sa.select(_executions.c.id)
                        .where(
                            _executions.c.status.in_(
                                [ExecutionStatus.PENDING, ExecutionStatus.RUNNING]
                            ),
                            _executions.c.updated_at < sa.func.now() - stale_after,
                        )
                        .limit(limit)
                        .with_for_update(skip_locked=True)
                    )
                )
                .values(updated_at=sa.func.now())
                .returning(_executions.c.id)
            )
            .scalars()
            .all()
        )
    for row in [*expired, *stale]:
        publisher.publish(RUN_TASK, {"task_id": str(row.id)}, priority=row.priority)
    for execution_id in idle:
        publisher.publish(ADVANCE_WORKFLOW, {"execution_id": str(execution_id)})
    return ReapReport(len(expired), len(stale), len(idle))
