"""A run's steps, as fork and replay count them (issue 16; ``worker.agents.forks``).

**A step.** A run's conversation is split at the model's replies. Step 0 is what came before
the first reply (the system prompt and the input); step N (N >= 1) is the N-th model reply
together with what followed it before the next reply: the results of the tool calls it asked
for (or the note that its answer did not fit the output schema). So a run that made N model
calls has N steps, and "the run at step N" is its conversation up to the end of step N: every
message before the (N+1)-th reply. ``agentworker runs show RUN`` prints the steps with these
numbers (``steps``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from models import AgentRun, AIAgent, Task
from worker.agents.budgets import RunBudget, Spend, effective_budget, spend_report
from worker.core.errors import AgentWorkerError
from worker.durable import conversation

__all__ = [
    "RunNotFound",
    "RunSteps",
    "RunSummary",
    "Step",
    "run_steps",
    "run_uuid",
    "runs_of_task",
    "split_steps",
]

_runs = AgentRun.__table__
_tasks = Task.__table__
_agents = AIAgent.__table__


class RunNotFound(AgentWorkerError):
    """No run has this id for this tenant (another tenant's run is not found either)."""

    code = "run_not_found"


@dataclass(frozen=True)
class Step:
    """Step ``number`` of a run: its messages are ``first_seq``..``last_seq`` (1-based)."""

    number: int
    first_seq: int
    last_seq: int
    #: The model's reply (None for step 0): its text, and the tools it asked for.
    reply: str | None
    tool_calls: tuple[str, ...]
    #: How many of those calls have results in the conversation.
    results: int

    @property
    def complete(self) -> bool:
        return self.results >= len(self.tool_calls)


@dataclass(frozen=True)
class RunSteps:
    run_id: uuid.UUID
    task_id: uuid.UUID
    agent_name: str
    status: str
    task_status: str
    parent_run_id: uuid.UUID | None
    forked_at_step: int | None
    steps: tuple[Step, ...]
    messages: tuple[dict[str, Any], ...]
    #: What the run spent against its budget (``worker.agents.budgets.spend_report``); the
    #: budget shown is the agent's and the submission's, without approvers' grants.
    spend: dict[str, Any]


def split_steps(messages: Sequence[dict[str, Any]]) -> list[Step]:
    """The steps of a conversation (see the module's note); step 0 always exists."""
    starts = [i for i, m in enumerate(messages) if m.get("role") == "assistant"]
    bounds = [0, *starts, len(messages)]
    steps = []
    for number in range(len(bounds) - 1):
        first, end = bounds[number], bounds[number + 1]
        if number == 0:
            steps.append(Step(0, 1, end, None, (), 0))
            continue
        reply = messages[first]
        calls = tuple(
            str((call.get("function") or {}).get("name") or "")
            for call in reply.get("tool_calls") or []
        )
        ids = {call.get("id") for call in reply.get("tool_calls") or []}
        answered = sum(
            1
            for m in messages[first + 1 : end]
            if m.get("role") == "tool" and m.get("tool_call_id") in ids
        )
        content = reply.get("content")
        steps.append(
            Step(
                number,
                first + 1,
                end,
                content if isinstance(content, str) else None,
                calls,
                answered,
            )
        )
    return steps


def run_steps(connection: sa.Connection, tenant_id: uuid.UUID, run_id: uuid.UUID) -> RunSteps:
    """Run ``run_id`` of the tenant with its conversation split into steps."""
    row = connection.execute(
        sa.select(
            _runs.c.id,
            _runs.c.task_id,
            _runs.c.agent_name,
            _runs.c.status,
            _runs.c.parent_run_id,
            _runs.c.forked_at_step,
            _tasks.c.status.label("task_status"),
            _runs.c.llm_calls,
            (_runs.c.prompt_tokens + _runs.c.completion_tokens).label("tokens"),
            _runs.c.cost,
            _tasks.c.input_payload["budget"].label("submitted_budget"),
            _agents.c.configuration["budget"].label("agent_budget"),
        )
        .join(_tasks, _tasks.c.id == _runs.c.task_id)
        .outerjoin(_agents, _agents.c.id == _runs.c.agent_id)
        .where(_runs.c.id == run_id, _runs.c.tenant_id == tenant_id)
    ).one_or_none()
    if row is None:
        raise RunNotFound(
            f"no agent run {run_id} for this tenant; a run's id is in its task's events "
            "(`agentworker events TASK --tenant T`) and in `agentworker runs list --task TASK`"
        )
    messages = conversation.load(connection, run_id)
    return RunSteps(
        row.id,
        row.task_id,
        row.agent_name,
        str(row.status),
        str(row.task_status),
        row.parent_run_id,
        row.forked_at_step,
        tuple(split_steps(messages)),
        tuple(messages),
        _spend(row),
    )


def _spend(row: Any) -> dict[str, Any]:
    agent = None if row.agent_budget is None else RunBudget.model_validate(row.agent_budget)
    budget = effective_budget(agent, row.submitted_budget)
    return spend_report(budget, Spend(row.llm_calls, row.tokens, row.cost))


@dataclass(frozen=True)
class RunSummary:
    id: uuid.UUID
    status: str
    agent_name: str
    llm_calls: int
    steps: int
    parent_run_id: uuid.UUID | None
    forked_at_step: int | None
    started_at: Any


def runs_of_task(
    connection: sa.Connection, tenant_id: uuid.UUID, task_id: uuid.UUID
) -> list[RunSummary]:
    """The tenant's task's runs, oldest first; ``steps``: model replies in the conversation."""
    replies = (
        sa.select(sa.func.count())
        .select_from(conversation.MESSAGES)
        .where(
            conversation.MESSAGES.c.run_id == _runs.c.id,
            conversation.MESSAGES.c.message["role"].astext == "assistant",
        )
        .scalar_subquery()
    )
    rows = connection.execute(
        sa.select(
            _runs.c.id,
            _runs.c.status,
            _runs.c.agent_name,
            _runs.c.llm_calls,
            replies.label("steps"),
            _runs.c.parent_run_id,
            _runs.c.forked_at_step,
            _runs.c.started_at,
        )
        .where(_runs.c.task_id == task_id, _runs.c.tenant_id == tenant_id)
        .order_by(_runs.c.started_at)
    ).all()
    return [RunSummary(**{**row._mapping, "status": str(row.status)}) for row in rows]


def run_uuid(value: uuid.UUID | str) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(value)
    except ValueError:
        raise RunNotFound(
            f"'{value}' is not an agent run id (a UUID); `agentworker runs list --task TASK "
            "--tenant T` lists a task's runs"
        ) from None
