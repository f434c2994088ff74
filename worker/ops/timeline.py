"""Where a run's time and money went: a task's or a workflow execution's timeline, read from
the rows the worker already writes.

A task's bars are its LLM calls, failed LLM attempts (retries), tool calls and approval waits
(``worker.ops.task_bars`` says where each one's times come from). An execution's bars are its
**step** runs (each attempt of each step that started), with the tokens and cost of the
step's task, and the events of the execution and of its steps' tasks.

The caller's connection must be in the run's tenant scope (``models.tenant_scope``): row-level
security shows nothing of any other tenant, so another tenant's id reads as unknown (None).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from models import (
    AgentRun,
    AIWorkflow,
    AIWorkflowExecution,
    AIWorkflowStepRun,
    AIWorkflowVersion,
    Approval,
    EventLog,
    EventType,
    ExecutionStatus,
    Task,
    TaskStatus,
)
from worker.ops.task_bars import (
    Bar,
    approval_bars,
    chat_attempts,
    llm_bars,
    tool_bars,
    waiting_for_model,
)

__all__ = [
    "EVENT_LIMIT",
    "Bar",
    "Timeline",
    "TimelineEvent",
    "execution_timeline",
    "task_timeline",
]

#: The most events a timeline carries (the latest ones); ``events_total`` says how many exist.
EVENT_LIMIT = 500

FINAL_TASK = frozenset({TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELLED})
FINAL_EXECUTION = frozenset(
    {ExecutionStatus.COMPLETED, ExecutionStatus.FAILED, ExecutionStatus.CANCELLED}
)
#: The events a task's bars are built from (all of them, however many the run has).
_BAR_EVENTS = (EventType.LLM_CALL, EventType.TOOL_CALL, EventType.TOOL_RESULT)


@dataclass(frozen=True)
class TimelineEvent:
    id: int
    at: datetime
    type: str
    role: str | None
    content: str | None


@dataclass(frozen=True)
class Timeline:
    kind: str  # "task" or "execution"
    id: uuid.UUID
    tenant_id: uuid.UUID
    title: str
    status: str
    #: True once nothing will change: the page stops refreshing.
    final: bool
    start: datetime
    end: datetime | None
    #: The database's clock when this was read: where open bars end for now.
    as_of: datetime
    bars: tuple[Bar, ...]
    events: tuple[TimelineEvent, ...]
    events_total: int
    tokens: int
    cost: Decimal
    #: A task that is a workflow step: its execution.
    execution_id: uuid.UUID | None = None
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: times as ISO 8601, costs as decimal strings, ids as strings."""
        return _jsonable(asdict(self))


def task_timeline(connection: sa.Connection, task_id: uuid.UUID) -> Timeline | None:
    """The timeline of task ``task_id``; None if this tenant scope has no such task."""
    task = connection.execute(
        sa.select(
            Task.id,
            Task.tenant_id,
            Task.title,
            Task.agent_name,
            Task.status,
            Task.created_at,
            Task.started_at,
            Task.finished_at,
            Task.error,
            Task.workflow_execution_id,
            sa.func.now().label("as_of"),
        ).where(Task.id == task_id)
    ).one_or_none()
    if task is None:
        return None
    status = TaskStatus(task.status)
    mine = EventLog.task_id == task_id
    events = _events(connection, sa.and_(mine, EventLog.event_type.in_(_BAR_EVENTS)))
    shown, total = _latest_events(connection, mine)
    llm = llm_bars(
        [e for e in events if e.event_type == EventType.LLM_CALL],
        chat_attempts(connection, task_id, since=task.created_at),
    )
    tools = tool_bars(connection, task_id, events, status)
    approvals = approval_bars(connection, Approval.task_id == task_id)
    bars = sorted([*llm, *tools, *approvals], key=_bar_order)
    if status == TaskStatus.RUNNING and not any(b.running for b in bars):
        since = [task.started_at or task.created_at, *(e.at for e in shown)]
        bars.append(waiting_for_model(since, bars))
    tokens, cost = _spent(connection, [task_id]).get(task_id, (0, Decimal(0)))
    return Timeline(
        kind="task",
        id=task.id,
        tenant_id=task.tenant_id,
        title=task.title or task.agent_name or "task",
        status=status.value,
        final=status in FINAL_TASK,
        start=_earliest(task.started_at or task.created_at, bars),
        end=task.finished_at if status in FINAL_TASK else None,
        as_of=task.as_of,
        bars=tuple(bars),
        events=shown,
        events_total=total,
        tokens=tokens,
        cost=cost,
        execution_id=task.workflow_execution_id,
        error=task.error,
    )


def execution_timeline(connection: sa.Connection, execution_id: uuid.UUID) -> Timeline | None:
    """The timeline of workflow execution ``execution_id``: one bar per step that started;
    None if this tenant scope has no such execution."""
    execution = connection.execute(
        sa.select(
            AIWorkflowExecution.id,
            AIWorkflowExecution.tenant_id,
            AIWorkflowExecution.status,
            AIWorkflowExecution.started_at,
            AIWorkflowExecution.completed_at,
            AIWorkflowExecution.error_log,
            AIWorkflow.name,
            AIWorkflowVersion.steps,
            sa.func.now().label("as_of"),
        )
        .join(AIWorkflow, AIWorkflow.id == AIWorkflowExecution.workflow_id)
        .join(AIWorkflowVersion, AIWorkflowVersion.id == AIWorkflowExecution.workflow_version_id)
        .where(AIWorkflowExecution.id == execution_id)
    ).one_or_none()
    if execution is None:
        return None
    status = ExecutionStatus(execution.status)
    runs = connection.execute(
        sa.select(
            AIWorkflowStepRun.step_key,
            AIWorkflowStepRun.step_kind,
            AIWorkflowStepRun.attempt,
            AIWorkflowStepRun.status,
            AIWorkflowStepRun.error,
            AIWorkflowStepRun.task_id,
            AIWorkflowStepRun.approval_id,
            AIWorkflowStepRun.started_at,
            AIWorkflowStepRun.finished_at,
            AIWorkflowStepRun.updated_at,
        )
        .where(
            AIWorkflowStepRun.execution_id == execution_id,
            AIWorkflowStepRun.started_at.is_not(None),
        )
        .order_by(AIWorkflowStepRun.started_at, AIWorkflowStepRun.attempt)
    ).all()
    task_ids = [r.task_id for r in runs if r.task_id is not None]
    spent = _spent(connection, task_ids)
    parents = _branch_parents(execution.steps)
    bars = [_step_bar(run, spent, parents.get(run.step_key)) for run in runs]
    step_tasks = connection.execute(
        sa.select(Task.id).where(Task.workflow_execution_id == execution_id)
    ).scalars()
    shown, total = _latest_events(
        connection,
        sa.or_(
            EventLog.workflow_execution_id == execution_id,
            EventLog.task_id.in_(list(step_tasks)),
        ),
    )
    tokens = sum(t for t, _ in spent.values())
    cost = sum((c for _, c in spent.values()), Decimal(0))
    failure = execution.error_log or {}
    error = failure.get("error") or failure.get("cancelled")
    return Timeline(
        kind="execution",
        id=execution.id,
        tenant_id=execution.tenant_id,
        title=execution.name,
        status=status.value,
        final=status in FINAL_EXECUTION,
        start=_earliest(execution.started_at, bars),
        end=execution.completed_at if status in FINAL_EXECUTION else None,
        as_of=execution.as_of,
        bars=tuple(bars),
        events=shown,
        events_total=total,
        tokens=tokens,
        cost=cost,
        error=str(error) if error else None,
    )


# --- a task's bars ---------------------------------------------------------------------------


# --- an execution's bars ---------------------------------------------------------------------


def _branch_parents(steps: Any) -> dict[str, str]:
    """Each parallel branch's step, from the execution's pinned definition."""
    parents: dict[str, str] = {}
    for step in steps if isinstance(steps, list) else []:
        if isinstance(step, dict) and step.get("kind") == "parallel":
            for branch in step.get("branches") or []:
                if isinstance(branch, dict) and "key" in branch:
                    parents[str(branch["key"])] = str(step.get("key"))
    return parents


def _step_bar(step: Any, spent: Mapping[uuid.UUID, tuple[int, Decimal]], parent: str | None) -> Bar:
    open_ = step.status in ("pending", "running", "awaiting_approval")
    end = step.finished_at or (None if open_ else step.updated_at)
    tokens, cost = spent.get(step.task_id, (None, None)) if step.task_id else (None, None)
    label = step.step_key + (f" (attempt {step.attempt})" if step.attempt > 1 else "")
    return Bar(
        kind="step",
        label=label,
        start=step.started_at,
        end=end,
        status=str(step.status),
        tokens=tokens,
        cost=cost,
        detail=step.step_kind + (f": {step.error}" if step.error else ""),
        task_id=step.task_id,
        step_kind=step.step_kind,
        parent=parent,
        approval_id=step.approval_id,
    )


# --- shared ----------------------------------------------------------------------------------


def _spent(
    connection: sa.Connection, task_ids: Iterable[uuid.UUID]
) -> dict[uuid.UUID, tuple[int, Decimal]]:
    """Tokens and cost per task, summed over its agent runs."""
    ids = list(task_ids)
    if not ids:
        return {}
    rows = connection.execute(
        sa.select(
            AgentRun.task_id,
            sa.func.sum(AgentRun.prompt_tokens + AgentRun.completion_tokens).label("tokens"),
            sa.func.sum(AgentRun.cost).label("cost"),
        )
        .where(AgentRun.task_id.in_(ids))
        .group_by(AgentRun.task_id)
    ).all()
    return {r.task_id: (int(r.tokens or 0), Decimal(r.cost or 0)) for r in rows}


def _events(connection: sa.Connection, where: sa.ColumnElement[bool]) -> list[Any]:
    return list(
        connection.execute(
            sa.select(
                EventLog.id,
                EventLog.agent_run_id,
                EventLog.event_type,
                EventLog.agent_role,
                EventLog.content,
                EventLog.data,
                EventLog.created_at,
            )
            .where(where)
            .order_by(EventLog.id)
        ).all()
    )


def _latest_events(
    connection: sa.Connection, where: sa.ColumnElement[bool]
) -> tuple[tuple[TimelineEvent, ...], int]:
    """The latest ``EVENT_LIMIT`` events, oldest first, and how many there are in all."""
    total = connection.execute(sa.select(sa.func.count()).where(where)).scalar_one()
    rows = connection.execute(
        sa.select(
            EventLog.id,
            EventLog.event_type,
            EventLog.agent_role,
            EventLog.content,
            EventLog.created_at,
        )
        .where(where)
        .order_by(EventLog.id.desc())
        .limit(EVENT_LIMIT)
    ).all()
    return tuple(_event_view(r) for r in reversed(rows)), int(total)


def _event_view(row: Any) -> TimelineEvent:
    return TimelineEvent(
        id=row.id,
        at=row.created_at,
        type=str(row.event_type),
        role=row.agent_role,
        content=row.content,
    )


def _earliest(start: datetime, bars: Sequence[Bar]) -> datetime:
    return min([start, *(b.start for b in bars)])


def _bar_order(bar: Bar) -> tuple[datetime, int]:
    return (bar.start, {"approval": 0, "retry": 1, "llm": 2, "tool": 3}.get(bar.kind, 4))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    return value
