"""A run's steps, each written by one statement (DESIGN §5).

A step adds the model's reply or the tool results to the run's conversation (as rows numbered
after the run's ``message_count``, ``worker.durable.conversation``: a step writes its own messages
only, however long the run), counts tokens and cost, and records its events, latency metrics and
action rows. All of it is one statement of data-modifying CTEs gated on the lease, run in
autocommit: every row is written or, when this worker no longer holds the task (cancelled,
reclaimed), none is. The last step also moves the
task to SUCCEEDED and the run to COMPLETED, in the same statement.

One round trip per step instead of one per kind of row plus a COMMIT: at 0 ms LLM latency the
database round trips are most of a run's cost (``make bench``).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from models import AgentRun, AgentRunStatus, Task, TaskStatus
from worker.durable import conversation
from worker.durable.action_logs import ACTION_LOGS, completing_action_logs
from worker.durable.dispatch import held_clause
from worker.durable.leases import lease_held, release
from worker.durable.records import EVENTS, METRICS
from worker.durable.states import AGENT_RUN

_runs = AgentRun.__table__
_tasks = Task.__table__


@dataclass
class Step:
    """What one step adds to a run."""

    messages: list[dict[str, Any]]
    events: Sequence[Mapping[str, Any]] = ()
    metrics: Sequence[Mapping[str, Any]] = ()
    action_logs: Sequence[Mapping[str, Any]] = ()
    llm_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: Decimal = field(default_factory=Decimal)


#: SQLAlchemy reads an execution parameter named like a column of an UPDATE's table as one more
#: SET value, so every parameter of these statements carries this prefix.
_PREFIX = "step_"


def _bind(name: str, type_: Any) -> sa.BindParameter[Any]:
    return sa.bindparam(_PREFIX + name, type_=type_)


def _param(name: str, column: sa.ColumnElement[Any]) -> sa.BindParameter[Any]:
    return _bind(name, column.type)


def _run_changes() -> dict[str, Any]:
    """The run's UPDATE for any step: count its messages (inserted by ``_with_rows``), add
    counters."""
    c = _runs.c
    return {
        "message_count": c.message_count + sa.func.jsonb_array_length(_messages()),
        "step_count": c.step_count + _bind("steps", sa.Integer),
        "model": _param("model", c.model),
        "llm_calls": c.llm_calls + _bind("llm_calls", sa.Integer),
        "prompt_tokens": c.prompt_tokens + _bind("prompt_tokens", sa.Integer),
        "completion_tokens": c.completion_tokens + _bind("completion_tokens", sa.Integer),
        "cost": c.cost + _param("cost", c.cost),
    }


def _messages() -> sa.ColumnElement[Any]:
    return sa.cast(_bind("messages", sa.Text), JSONB)


def _with_rows(gate: sa.CTE, step: sa.CTE) -> sa.Select[Any]:
    """``SELECT id FROM gate`` that also makes the run's UPDATE ``step`` (returning
    ``conversation.returning()``) and inserts the step's rows, the rows only if the gate moved
    a row (the messages: only if ``step`` did)."""
    moved = sa.exists(sa.select(gate.c.id))
    actions = completing_action_logs(ACTION_LOGS.insert(_PREFIX + "action_logs", where=moved))
    return sa.select(gate.c.id).add_cte(
        *([step] if step is not gate else []),
        conversation.insert_after(step, _messages()).cte("messages"),
        EVENTS.insert(_PREFIX + "events", where=moved).cte("events"),
        METRICS.insert(_PREFIX + "metrics", where=moved).cte("metrics"),
        actions.cte("action_logs"),
    )


def _task_id() -> sa.BindParameter[Any]:
    return _bind("task_id", _tasks.c.id.type)


def _owner() -> sa.BindParameter[Any]:
    return _bind("owner", _tasks.c.lease_owner.type)


_appended = (
    sa.update(_runs)
    .where(_runs.c.id == _bind("run_id", _runs.c.id.type), lease_held(_task_id(), _owner()))
    .values(_run_changes())
    .returning(*conversation.returning())
    .cte("step")
)
_APPEND = _with_rows(_appended, _appended)

_released = release(
    _task_id(),
    _owner(),
    TaskStatus.SUCCEEDED,
    result=_param("result", _tasks.c.result),
    result_summary=_param("result_summary", _tasks.c.result_summary),
    error=None,
    finished_at=sa.func.now(),
).cte("released")
_tenant_of_task = (
    sa.select(_tasks.c.tenant_id).where(_tasks.c.id == _task_id()).scalar_subquery().correlate(None)
)
# Gated on the task's release: the run is RUNNING whenever its task is, so it moves with it.
# It also says whether the tenant has held tasks, so that no separate probe is needed.
_FINISH = _with_rows(
    _released,
    AGENT_RUN.statement(
        _bind("run_id", _runs.c.id.type),
        AgentRunStatus.COMPLETED,
        where=[sa.exists(sa.select(_released.c.id))],
        values={
            **_run_changes(),
            "output": _param("output", _runs.c.output),
            "output_summary": _param("output_summary", _runs.c.output_summary),
            "finished_at": sa.func.now(),
        },
        returning=conversation.returning(),
    ).cte("step"),
).add_columns(held_clause(_tenant_of_task).label("held"))


@dataclass(frozen=True)
class Finished:
    """The task ended SUCCEEDED; ``held``: its tenant had held tasks (as the finish saw)."""

    held: bool


def _parameters(
    task_id: uuid.UUID, owner: str, run_id: uuid.UUID, model: str, step: Step, **more: Any
) -> dict[str, Any]:
    values = {
        "task_id": task_id,
        "owner": owner,
        "run_id": run_id,
        "model": model,
        "messages": json.dumps(step.messages),
        "steps": 1 if step.messages else 0,
        "llm_calls": step.llm_calls,
        "prompt_tokens": step.prompt_tokens,
        "completion_tokens": step.completion_tokens,
        "cost": step.cost,
        "events": EVENTS.payload(step.events),
        "metrics": METRICS.payload(step.metrics),
        "action_logs": ACTION_LOGS.payload(step.action_logs),
        **more,
    }
    return {_PREFIX + name: value for name, value in values.items()}


def append(
    connection: sa.Connection,
    *,
    task_id: uuid.UUID,
    owner: str,
    run_id: uuid.UUID,
    model: str,
    step: Step,
) -> bool:
    """Write one step if ``owner`` still holds the task; False (nothing written) if not."""
    parameters = _parameters(task_id, owner, run_id, model, step)
    return connection.execute(_APPEND, parameters).first() is not None


def finish(
    connection: sa.Connection,
    *,
    task_id: uuid.UUID,
    owner: str,
    run_id: uuid.UUID,
    model: str,
    step: Step,
    output: Any,
    summary: str,
) -> Finished | None:
    """Write the last step and end the task SUCCEEDED with ``output``, if ``owner`` still
    holds it; None (nothing written) if not."""
    parameters = _parameters(
        task_id,
        owner,
        run_id,
        model,
        step,
        result={"output": output},
        output=output,
        result_summary=summary,
        output_summary=summary,
    )
    row = connection.execute(_FINISH, parameters).first()
    return None if row is None else Finished(held=bool(row.held))
