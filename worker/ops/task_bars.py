"""A task's bars on its timeline (``worker.ops.timeline``), each read from the rows the run
left:

- **llm**: one per model call. Its time is the successful attempt's latency metric
  (``ai_performance_metrics``, ``worker.llm.attempt_records``: started at, latency); its tokens
  and cost are its ``LLM_CALL`` event's.
- **retry**: one per failed LLM attempt, from the same metrics (written the moment it fails).
- **tool**: one per tool call the model asked for (``TOOL_CALL`` events). A batch's calls run
  one after the other and their ``TOOL_RESULT`` events are written together once the last
  returns, each with its duration: so they are laid back to back, ending at the batch's write.
  A call still running is found by its PENDING action row (a tool with side effects), or by
  having no result yet while the task runs.
- **approval**: one per approval the task asked for, from its request to its decision.

While the task runs and no tool is out, the model is being asked: one open **llm** bar from the
last recorded step (``waiting_for_model``).
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa

from models import (
    ActionLog,
    ActionStatus,
    AIPerformanceMetric,
    Approval,
    ApprovalStatus,
    EventType,
    TaskStatus,
)

__all__ = [
    "Bar",
    "approval_bars",
    "chat_attempts",
    "llm_bars",
    "tool_bars",
    "waiting_for_model",
]

_CHAT_METRIC = "llm.chat.latency_ms"


@dataclass(frozen=True)
class Bar:
    """One step on the time axis. ``end`` is None while it runs; ``tokens`` and ``cost`` are
    None where the step spends none (a tool, an approval)."""

    kind: str  # "llm", "tool", "approval", "retry" or "step"
    label: str
    start: datetime
    end: datetime | None
    status: str
    tokens: int | None = None
    cost: Decimal | None = None
    detail: str | None = None
    #: The task a workflow step ran as (its own run page).
    task_id: uuid.UUID | None = None
    #: A workflow step's kind (agent, approval, parallel, condition), and the parallel step
    #: a branch belongs to.
    step_kind: str | None = None
    parent: str | None = None
    #: The approval a wait (or an approval step) is for (its page in the inbox).
    approval_id: uuid.UUID | None = None

    @property
    def running(self) -> bool:
        return self.end is None


@dataclass(frozen=True)
class _Attempt:
    number: int
    start: datetime
    latency: timedelta
    ok: bool
    status_code: int | None

    @property
    def end(self) -> datetime:
        return self.start + self.latency


def chat_attempts(
    connection: sa.Connection, task_id: uuid.UUID, *, since: datetime
) -> list[_Attempt]:
    """The task's LLM chat attempts, in the order they started."""
    rows = connection.execute(
        sa.select(
            AIPerformanceMetric.metric_value,
            AIPerformanceMetric.measurement_context,
            AIPerformanceMetric.measurement_timestamp,
        )
        .where(
            AIPerformanceMetric.metric_name == _CHAT_METRIC,
            AIPerformanceMetric.measurement_timestamp >= since - timedelta(seconds=5),
            AIPerformanceMetric.measurement_context["task_id"].astext == str(task_id),
        )
        .order_by(AIPerformanceMetric.measurement_timestamp)
    ).all()
    return [
        _Attempt(
            number=int(r.measurement_context.get("attempt") or 1),
            start=r.measurement_timestamp,
            latency=timedelta(milliseconds=float(r.metric_value)),
            ok=bool(r.measurement_context.get("ok")),
            status_code=r.measurement_context.get("status_code"),
        )
        for r in rows
    ]


def llm_bars(calls: Sequence[Any], attempts: Sequence[_Attempt]) -> list[Bar]:
    """One bar per LLM_CALL event, timed by its successful attempt; one retry bar per failed
    attempt. An event is matched with the latest successful attempt that started before it
    was written (its step is written right after the reply)."""
    successes = [a for a in attempts if a.ok]
    matched: dict[int, _Attempt] = {}
    next_free = 0
    for index, call in enumerate(calls):
        candidates = [
            i for i in range(next_free, len(successes)) if successes[i].start <= call.created_at
        ]
        if candidates:
            matched[index] = successes[candidates[-1]]
            next_free = candidates[-1] + 1
    bars = []
    for index, call in enumerate(calls):
        data = call.data or {}
        attempt = matched.get(index)
        if attempt is not None:
            start, end = attempt.start, attempt.end
        else:  # no metric (rows from before metrics were kept): its recorded latency
            end = call.created_at
            start = end - timedelta(milliseconds=float(data.get("latency_ms") or 0))
        tokens = int(data.get("prompt_tokens") or 0) + int(data.get("completion_tokens") or 0)
        finish = data.get("finish_reason")
        bars.append(
            Bar(
                kind="llm",
                label=f"LLM call {index + 1}"
                + (f" · {data['model']}" if data.get("model") else ""),
                start=start,
                end=end,
                status="succeeded",
                tokens=tokens,
                cost=_decimal(data.get("cost")),
                detail=", ".join(
                    part
                    for part in (
                        f"{data.get('prompt_tokens', 0)} in, "
                        f"{data.get('completion_tokens', 0)} out tokens",
                        f"finish: {finish}" if finish else "",
                        call.content or "",
                    )
                    if part
                )[:300],
            )
        )
    for attempt in attempts:
        if not attempt.ok:
            code = f"HTTP {attempt.status_code}" if attempt.status_code else "no response"
            bars.append(
                Bar(
                    kind="retry",
                    label=f"LLM attempt {attempt.number} failed",
                    start=attempt.start,
                    end=attempt.end,
                    status="failed",
                    detail=code,
                )
            )
    return bars


def tool_bars(
    connection: sa.Connection, task_id: uuid.UUID, events: Sequence[Any], status: TaskStatus
) -> list[Bar]:
    asked = {
        (e.agent_run_id, (e.data or {}).get("tool_call_id")): e
        for e in events
        if e.event_type == EventType.TOOL_CALL
    }
    results = [e for e in events if e.event_type == EventType.TOOL_RESULT]
    bars: list[Bar] = []
    # One batch: the results written by one statement (same run, same timestamp).
    batches: dict[tuple[Any, datetime], list[Any]] = defaultdict(list)
    for result in results:
        batches[(result.agent_run_id, result.created_at)].append(result)
    done: set[tuple[Any, Any]] = set()
    for (_, written), batch in batches.items():
        end = written
        for result in reversed(batch):  # the last call ended when the batch was written
            data = result.data or {}
            duration = timedelta(milliseconds=int(data.get("duration_ms") or 0))
            start = end - duration
            bars.append(
                Bar(
                    kind="tool",
                    label=str(data.get("name") or result.content or "tool"),
                    start=start,
                    end=end,
                    status=str(data.get("status") or "success"),
                    detail=(data.get("error") or None),
                )
            )
            done.add((result.agent_run_id, data.get("tool_call_id")))
            end = start
    unfinished = [(key, e) for key, e in asked.items() if key not in done]
    if not unfinished:
        return bars
    pending = _open_actions(connection, task_id)
    waiting = _approvals_by_call(connection, task_id)
    for (run_id, call_id), call in unfinished:
        approval = waiting.get((run_id, call_id))
        if approval is not None and approval.status == ApprovalStatus.PENDING:
            continue  # its approval bar is what is happening
        action = pending.get((run_id, call_id))
        if status != TaskStatus.RUNNING and action is None:
            continue  # never ran, never will: the events say why
        start = action.created_at if action is not None else call.created_at
        if action is None and approval is not None and approval.decided_at is not None:
            start = max(start, approval.decided_at)
        bars.append(
            Bar(
                kind="tool",
                label=str((call.data or {}).get("name") or call.content or "tool"),
                start=start,
                end=None if status == TaskStatus.RUNNING else start,
                status="running" if status == TaskStatus.RUNNING else "unknown",
                detail=None
                if status == TaskStatus.RUNNING
                else "started; no result was recorded before the task ended",
            )
        )
    return bars


def _open_actions(connection: sa.Connection, task_id: uuid.UUID) -> dict[tuple[Any, Any], Any]:
    rows = connection.execute(
        sa.select(ActionLog.agent_run_id, ActionLog.tool_call_id, ActionLog.created_at).where(
            ActionLog.task_id == task_id, ActionLog.status == ActionStatus.PENDING
        )
    ).all()
    return {(r.agent_run_id, r.tool_call_id): r for r in rows}


def _approvals_by_call(connection: sa.Connection, task_id: uuid.UUID) -> dict[tuple[Any, Any], Any]:
    rows = connection.execute(
        sa.select(
            Approval.agent_run_id, Approval.tool_call_id, Approval.status, Approval.decided_at
        ).where(Approval.task_id == task_id, Approval.tool_call_id.is_not(None))
    ).all()
    return {(r.agent_run_id, r.tool_call_id): r for r in rows}


def approval_bars(connection: sa.Connection, where: sa.ColumnElement[bool]) -> list[Bar]:
    rows = connection.execute(
        sa.select(
            Approval.id,
            Approval.title,
            Approval.status,
            Approval.created_at,
            Approval.decided_at,
            Approval.decision_comment,
            Approval.expires_at,
        )
        .where(where)
        .order_by(Approval.created_at)
    ).all()
    bars = []
    for row in rows:
        decided = ApprovalStatus(row.status)
        pending = decided == ApprovalStatus.PENDING
        bars.append(
            Bar(
                kind="approval",
                label=row.title,
                start=row.created_at,
                end=None if pending else row.decided_at,
                status="waiting" if pending else decided.value,
                detail=row.decision_comment
                or (
                    f"expires {row.expires_at.isoformat()}" if pending and row.expires_at else None
                ),
                approval_id=row.id,
            )
        )
    return bars


def waiting_for_model(since: Sequence[datetime], bars: Sequence[Bar]) -> Bar:
    """The call being made now (the run is RUNNING and nothing else is out), since the latest
    of ``since`` (the run's start, its latest events) and the bars' ends."""
    latest = max([*since, *(b.end for b in bars if b.end is not None)])
    calls = sum(1 for b in bars if b.kind == "llm")
    return Bar(
        kind="llm",
        label=f"LLM call {calls + 1}",
        start=latest,
        end=None,
        status="running",
        detail="waiting for the model",
    )


def _decimal(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None
