"""Cancelling a task or a workflow execution.

The row moves to CANCELLED at once and its pending approvals are cancelled; work in flight stops
at its next checkpoint (the runner's lease check fails once the task is no longer RUNNING).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Literal

import sqlalchemy as sa

from models import (
    AgentRun,
    AgentRunStatus,
    AIWorkflowExecution,
    AIWorkflowStepRun,
    BoardTask,
    ChatSession,
    ChatSessionStatus,
    EventType,
    ExecutionStatus,
    Interview,
    InterviewStatus,
    StepRunStatus,
    Task,
    TaskStatus,
)
from worker.approvals.cancelling import cancel_pending
from worker.core.contract import ADVANCE_WORKFLOW
from worker.core.errors import AgentWorkerError
from worker.core.settings import get_settings
from worker.durable import dispatch, records
from worker.durable.publishing import Publisher, Wake
from worker.durable.states import (
    AGENT_RUN,
    CHAT_SESSION,
    EXECUTION,
    INTERVIEW,
    STEP_RUN,
    TASK,
)
from worker.workflows.catalog import ExecutionNotFound

_tasks = Task.__table__
_executions = AIWorkflowExecution.__table__
_step_runs = AIWorkflowStepRun.__table__
_interviews = Interview.__table__
_sessions = ChatSession.__table__
_cards = BoardTask.__table__


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
    """Cancel the task, its pending approvals and its idle agent runs, and wake its workflow
    execution (if any) to notice; the slot it held in its tenant's window goes to the next
    held task at once. False if it had already ended."""
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
        AGENT_RUN.apply_all(  # nothing is running these runs: cancel them here
            connection,
            AgentRunStatus.CANCELLED,
            where=[AgentRun.task_id == task_id],
            sources=[AgentRunStatus.STARTED, AgentRunStatus.WAITING_APPROVAL],
            values={"finished_at": sa.func.now()},
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
        releases = dispatch.release_freed(
            connection, moved.tenant_id, get_settings().tenant_max_in_flight
        )
    for wake in wakes:
        wake.send(publisher)
    dispatch.publish_releases(publisher, releases)
    return True


def cancel_execution(engine: sa.Engine, execution_id: uuid.UUID, *, reason: str) -> bool:
    """Cancel the execution, its pending approvals and its unfinished step tasks; running
    steps stop at their next checkpoint. False if it had already ended."""
    with engine.begin() as connection:
        ended = _end(
            connection,
            execution_id,
            ExecutionStatus.CANCELLED,
            error_log={"cancelled": reason},
            reason=reason,
            event=(EventType.STATE_CHANGE, f"execution cancelled: {reason}", {"to": "cancelled"}),
        )
        if not ended and _status(connection, execution_id) is None:
            raise ExecutionNotFound(f"no workflow execution {execution_id}")
    return ended


def fail_execution(engine: sa.Engine, execution_id: uuid.UUID, reason: str) -> str:
    """End the execution FAILED with ``reason`` (an advance of it raised: retrying the same
    advance would raise again), stopping its work. Returns its status."""
    with engine.begin() as connection:
        failed = f"workflow failed: {reason}"
        if _end(
            connection,
            execution_id,
            ExecutionStatus.FAILED,
            error_log={"error": reason},
            reason=failed,
            event=(EventType.ERROR, failed, {"code": "advance_failed"}),
        ):
            return ExecutionStatus.FAILED.value
        return _status(connection, execution_id) or "missing"


def _end(
    connection: sa.Connection,
    execution_id: uuid.UUID,
    target: ExecutionStatus,
    *,
    error_log: dict[str, str],
    reason: str,
    event: tuple[EventType, str, dict[str, str]],
) -> bool:
    """Move the execution to ``target`` and stop its work; False if it had already ended."""
    moved = EXECUTION.apply(
        connection,
        execution_id,
        target,
        values={"completed_at": sa.func.now(), "error_log": error_log},
        returning=[_executions.c.tenant_id],
    )
    if moved is None:
        return False
    stop_work(connection, execution_id, reason)
    event_type, content, data = event
    scope = records.Scope(moved.tenant_id, workflow_execution_id=execution_id)
    records.write(connection, events=[records.event(scope, event_type, content, data)])
    return True


def _status(connection: sa.Connection, execution_id: uuid.UUID) -> str | None:
    status = connection.execute(
        sa.select(_executions.c.status).where(_executions.c.id == execution_id)
    ).scalar_one_or_none()
    return str(status) if status is not None else None


def stop_work(connection: sa.Connection, execution_id: uuid.UUID, reason: str) -> None:
    """An execution has ended (cancelled or failed): nothing of it may go on. Its pending
    approvals and those its steps' tools asked for are cancelled, its unfinished tasks are
    CANCELLED (a running one stops at its next checkpoint) and so are its unfinished step
    runs; in the caller's transaction."""
    cancel_pending(connection, execution_id=execution_id, reason=reason)
    unfinished = TASK.apply_all(
        connection,
        TaskStatus.CANCELLED,
        where=[_tasks.c.workflow_execution_id == execution_id],
        sources=[TaskStatus.PENDING, TaskStatus.RUNNING, TaskStatus.AWAITING_APPROVAL],
        values={"finished_at": sa.func.now(), "error": reason, "error_code": "cancelled"},
    )
    for task in unfinished:
        cancel_pending(connection, task_id=task.id, reason=reason)
    STEP_RUN.apply_all(
        connection,
        StepRunStatus.CANCELLED,
        where=[_step_runs.c.execution_id == execution_id],
        sources=[StepRunStatus.PENDING, StepRunStatus.RUNNING, StepRunStatus.AWAITING_APPROVAL],
        values={"finished_at": sa.func.now()},
    )
    # Seed 004's rows it was driving: its interview stops asking, its cards' chats end.
    INTERVIEW.apply_all(
        connection,
        InterviewStatus.CANCELLED,
        where=[_interviews.c.workflow_execution_id == execution_id],
    )
    CHAT_SESSION.apply_all(
        connection,
        ChatSessionStatus.FAILED,
        where=[
            _sessions.c.board_task_id.in_(
                sa.select(_cards.c.id)
                .join(_tasks, _tasks.c.id == _cards.c.orchestration_task_id)
                .where(_tasks.c.workflow_execution_id == execution_id)
            )
        ],
    )
