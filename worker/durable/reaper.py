"""The reaper: nothing stays stranded (DESIGN §5.1).

Runs from Celery beat (``maintenance.reap``). A RUNNING task whose lease expired (its worker
died) goes back to PENDING and is re-published; a PENDING task whose message was lost (e.g. a
crash between commit and publish) is re-published, but one that is only queued behind others
is not: a probe through its queue tells them apart (``worker.durable.queue_probes``); a
workflow execution whose wake-up was lost is advanced; a tenant whose window (fair dispatch,
``worker.durable.dispatch``) has room while it holds tasks back gets them released (a crash
between a task's end and its release, or an end that released nothing: a cancel, a give-up, a
wait for a person); a held task, which has no message, is never probed nor re-published.
Duplicates are harmless: a task is claimed by one conditional UPDATE, and an advance moves an
execution only as far as its rows allow.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa

from models import (
    AIWorkflowExecution,
    AIWorkflowStepRun,
    Approval,
    ApprovalStatus,
    EventType,
    ExecutionStatus,
    Interview,
    InterviewStatus,
    StepRunStatus,
    Task,
    TaskStatus,
)
from models.tenant_scope import tenant_scope
from worker.core.contract import ADVANCE_WORKFLOW, RUN_TASK
from worker.core.settings import get_settings
from worker.durable import dispatch, queue_probes, records
from worker.durable.publishing import Publisher
from worker.durable.states import TASK
from worker.durable.tenant_lookup import tenants_with_open_work

_tasks = Task.__table__
_executions = AIWorkflowExecution.__table__
_step_runs = AIWorkflowStepRun.__table__
_approvals = Approval.__table__
_interviews = Interview.__table__


@dataclass(frozen=True)
class ReapReport:
    requeued_after_lost_worker: int
    republished_pending: int
    advanced_executions: int
    probes_sent: int = 0
    released_held: int = 0


def reap(
    engine: sa.Engine,
    publisher: Publisher,
    *,
    stale_after_seconds: float,
    lost_wake_seconds: float = 20.0,
    idle_execution_seconds: float = 300.0,
    limit: int = 500,
    max_in_flight: int | None = None,
) -> ReapReport:
    """Re-queue what lost its worker; probe the queue for tasks PENDING longer than
    ``stale_after_seconds`` and re-publish those a probe proved lost; wake an execution whose
    wake-up is ``lost_wake_seconds`` overdue, or that has not moved in
    ``idle_execution_seconds``; release held tasks that fit in their tenant's window
    (``max_in_flight``: the default window, else the process's settings)."""
    windows = _Windows(
        timedelta(seconds=stale_after_seconds),
        timedelta(seconds=lost_wake_seconds),
        timedelta(seconds=idle_execution_seconds),
    )
    window = max_in_flight if max_in_flight is not None else get_settings().tenant_max_in_flight
    reports = []
    for tenant_id in tenants_with_open_work(engine):  # each in its own scope (RLS)
        with tenant_scope(tenant_id):
            released = _release_held(engine, publisher, tenant_id, window)
            reports.append(_reap_tenant(engine, publisher, windows, limit))
            reports.append(ReapReport(0, 0, 0, 0, released))
    return ReapReport(
        sum(r.requeued_after_lost_worker for r in reports),
        sum(r.republished_pending for r in reports),
        sum(r.advanced_executions for r in reports),
        sum(r.probes_sent for r in reports),
        sum(r.released_held for r in reports),
    )


def _release_held(
    engine: sa.Engine, publisher: Publisher, tenant_id: uuid.UUID, window: int
) -> int:
    """Fill the tenant's window, in a transaction of its own (its lock is the tenant's
    admissions'); publish what it released after the commit."""
    with engine.begin() as connection:
        releases = dispatch.fill_window(connection, tenant_id, window)
    for release in releases:
        publisher.publish(RUN_TASK, {"task_id": str(release.task_id)}, priority=release.priority)
    return len(releases)


@dataclass(frozen=True)
class _Windows:
    stale_after: timedelta
    lost_wake: timedelta
    idle_after: timedelta


def _reap_tenant(
    engine: sa.Engine, publisher: Publisher, windows: _Windows, limit: int
) -> ReapReport:
    stale_after, lost_wake, idle_after = windows.stale_after, windows.lost_wake, windows.idle_after
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
                    # NO KEY UPDATE: a row that a tool's open transaction references (its
                    # action row's foreign key holds KEY SHARE on it) can still be re-queued.
                    .with_for_update(skip_locked=True, key_share=True)
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
        lost = connection.execute(
            sa.update(_tasks)
            .where(
                _tasks.c.id.in_(
                    sa.select(_tasks.c.id)
                    .where(queue_probes.suspected(stale_after), queue_probes.lost())
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            )
            .values(updated_at=sa.func.now())  # queued again from now
            .returning(_tasks.c.id, _tasks.c.tenant_id, _tasks.c.priority)
        ).all()
        records.write(
            connection,
            events=[
                records.event(
                    records.Scope(row.tenant_id, row.id),
                    EventType.SYSTEM,
                    "no message of this task was left in the broker (a probe sent after it "
                    "came back first); re-published",
                )
                for row in lost
            ],
        )
        probes = queue_probes.probes_to_send(connection, stale_after)
        idle = (
            connection.execute(
                sa.update(_executions)
                .where(
                    _executions.c.id.in_(
                        sa.select(_executions.c.id)
                        .where(_stranded_execution(idle_after, lost_wake))
                        .limit(limit)
                        .with_for_update(skip_locked=True)
                    )
                )
                .values(updated_at=sa.func.now())  # so it is not re-published again at once
                .returning(_executions.c.id)
            )
            .scalars()
            .all()
        )
    for row in [*expired, *lost]:
        publisher.publish(RUN_TASK, {"task_id": str(row.id)}, priority=row.priority)
    for priority, sent_at in probes:
        publisher.publish(
            queue_probes.QUEUE_PROBE,
            queue_probes.probe_message(priority, sent_at),
            priority=priority,
        )
    for execution_id in idle:
        publisher.publish(ADVANCE_WORKFLOW, {"execution_id": str(execution_id)})
    return ReapReport(len(expired), len(lost), len(idle), len(probes))


def _stranded_execution(idle_after: timedelta, lost_wake: timedelta) -> sa.ColumnElement[bool]:
    """An execution whose ``workflows.advance`` was lost (a crash between a commit and its
    publish, or a lost message): the step it waits on has ended (its task finished, or its
    approval was decided or expired) ``lost_wake`` ago without the execution moving, or it is
    still PENDING that long after it was started (its first advance never went out); or,
    whatever the reason, a pending or running execution that has not moved in
    ``idle_after``. An execution waiting for a person or a running task is left alone."""
    now = sa.func.now()
    quiet = _executions.c.updated_at < now - lost_wake
    current = sa.and_(
        _step_runs.c.execution_id == _executions.c.id,
        _step_runs.c.step_key == _executions.c.current_step,
    )
    decided_gate = sa.exists(
        sa.select(1)
        .select_from(_step_runs.join(_approvals, _approvals.c.id == _step_runs.c.approval_id))
        .where(
            current,
            _step_runs.c.status == StepRunStatus.AWAITING_APPROVAL,
            _approvals.c.status != ApprovalStatus.PENDING,
            _approvals.c.decided_at < now - lost_wake,
        )
    )
    # An interview step waits like a gate: a question answered and never acted on.
    answered_interview = sa.exists(
        sa.select(1)
        .select_from(_interviews)
        .where(
            _interviews.c.workflow_execution_id == _executions.c.id,
            _interviews.c.workflow_step == _executions.c.current_step,
            _interviews.c.status == InterviewStatus.ACTIVE,
            _interviews.c.conversation_data.op("->")(-1).op("->>")("role") == "user",
            _interviews.c.updated_at < now - lost_wake,
        )
    )
    # A parallel step's branches are step runs of their own: any ended branch counts.
    ended_task = sa.exists(
        sa.select(1)
        .select_from(_step_runs.join(_tasks, _tasks.c.id == _step_runs.c.task_id))
        .where(
            _step_runs.c.execution_id == _executions.c.id,
            _step_runs.c.status == StepRunStatus.RUNNING,
            _tasks.c.status.in_(list(TASK.terminal)),
            _tasks.c.finished_at < now - lost_wake,
        )
    )
    # A step may give tasks that are not its run's own (a board step's cards): any task of
    # the execution that ended after the execution last moved counts.
    ended_since_moved = sa.exists(
        sa.select(1).where(
            _tasks.c.workflow_execution_id == _executions.c.id,
            _tasks.c.status.in_(list(TASK.terminal)),
            _tasks.c.finished_at < now - lost_wake,
            _tasks.c.finished_at > _executions.c.updated_at,
        )
    )
    return sa.or_(
        sa.and_(_executions.c.status == ExecutionStatus.PENDING, quiet),
        sa.and_(
            _executions.c.status == ExecutionStatus.AWAITING_APPROVAL,
            quiet,
            sa.or_(decided_gate, answered_interview),
        ),
        sa.and_(
            _executions.c.status == ExecutionStatus.RUNNING,
            quiet,
            sa.or_(ended_task, ended_since_moved),
        ),
        sa.and_(
            _executions.c.status.in_([ExecutionStatus.PENDING, ExecutionStatus.RUNNING]),
            _executions.c.updated_at < now - idle_after,
        ),
    )
