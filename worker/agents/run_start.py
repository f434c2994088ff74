"""Starting or resuming a task's agent run, inside the transaction that claimed the task.

The agent and its provider are looked up first (reads that may fail: an unknown agent fails
the task, not the claim). A task claimed before may have a run to continue from its persisted
messages (its ``agent_run_messages`` rows); otherwise a new agent_runs row starts from the system
prompt and the task's input, inserted with those first rows in one statement.
"""

from __future__ import annotations

import json
import time
import uuid
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from models import AgentRun, AgentRunStatus, EventType
from worker.agents.definitions import AgentDefinition, find_agent, load_agent
from worker.agents.loop import initial_messages
from worker.agents.model_versions import record_model_version
from worker.agents.run_state import ActiveRun, RunState
from worker.agents.runtime import Runtime
from worker.durable import conversation, records
from worker.durable.leases import ClaimedTask
from worker.durable.states import AGENT_RUN
from worker.llm.gateway import ProviderConfig
from worker.llm.providers import resolve_provider

_runs = AgentRun.__table__
#: A run in these states continues where it stopped when its task is claimed again.
_RESUMABLE = (AgentRunStatus.STARTED, AgentRunStatus.RUNNING, AgentRunStatus.WAITING_APPROVAL)
#: What resuming reads of a run: id, messages, llm_calls, status, tokens, cost, forked_at_step.
_RunRow = sa.Row[uuid.UUID, list[dict[str, Any]], int, AgentRunStatus, int, Decimal, int | None]


def start_or_resume(runtime: Runtime, task: ClaimedTask, connection: sa.Connection) -> ActiveRun:
    """Load the agent and provider (reads, which may fail), then resume or insert the run."""
    settings = runtime.settings
    agent = runtime.definitions.get(
        ("agent", task.agent_id, task.tenant_id, task.agent_name),
        lambda: (
            load_agent(connection, task.agent_id)
            if task.agent_id is not None
            else find_agent(connection, task.tenant_id, task.agent_name or "")
        ),
    )
    provider, provider_model = runtime.definitions.get(
        ("provider", task.tenant_id, agent.configuration.provider, agent.configuration.usage),
        lambda: resolve_provider(
            connection,
            settings,
            task.tenant_id,
            usage=agent.configuration.usage,
            named=agent.configuration.provider,
        ),
    )
    model = agent.configuration.model or provider_model or settings.default_model
    existing = _resumable_run(connection, task)
    run_id: uuid.UUID = existing.id if existing is not None else uuid.uuid4()
    scope = records.Scope(
        tenant_id=task.tenant_id,
        task_id=task.id,
        agent_run_id=run_id,
        agent_id=agent.id,
        agent_name=agent.name,
    )
    if existing is not None:
        state = _resume(connection, task, existing, model, scope)
    else:
        state = _start(connection, task, agent, provider, model, run_id, scope)
    run = ActiveRun(runtime, task, agent, provider, state, scope)
    run.deadline = time.monotonic() + run.timeout_seconds()
    return run


def _resumable_run(connection: sa.Connection, task: ClaimedTask) -> _RunRow | None:
    """The task's latest unfinished run. Only a task claimed before, or a fork's task (its run
    is made with it, ``worker.agents.forks``), can have one (each claim counts an attempt), so
    another first attempt skips the read."""
    if task.attempts <= 1 and "fork" not in task.input_payload:
        return None
    return connection.execute(
        sa.select(
            _runs.c.id,
            conversation.of(_runs.c.id).label("messages"),
            _runs.c.llm_calls,
            _runs.c.status,
            (_runs.c.prompt_tokens + _runs.c.completion_tokens).label("tokens"),
            _runs.c.cost,
            _runs.c.forked_at_step,
        )
        .where(_runs.c.task_id == task.id, _runs.c.status.in_(_RESUMABLE))
        .order_by(_runs.c.started_at.desc())
        .limit(1)
    ).one_or_none()


def _resume(
    connection: sa.Connection,
    task: ClaimedTask,
    existing: _RunRow,
    model: str,
    scope: records.Scope,
) -> RunState:
    """Continue ``existing`` from its persisted messages."""
    if existing.status != AgentRunStatus.RUNNING:
        AGENT_RUN.apply(connection, existing.id, AgentRunStatus.RUNNING)
    state = RunState(
        existing.id,
        list(existing.messages),
        existing.llm_calls,
        model,
        tokens=existing.tokens,
        cost=existing.cost,
        steps_before=existing.forked_at_step or 0,
    )
    source = "persisted" if existing.forked_at_step is None else "forked"
    records.write(
        connection,
        events=[
            records.event(
                scope,
                EventType.SYSTEM,
                f"resumed from {len(state.messages)} {source} messages (attempt {task.attempts})",
                {"attempt": task.attempts, "messages": len(state.messages)},
            )
        ],
    )
    return state


def _start(
    connection: sa.Connection,
    task: ClaimedTask,
    agent: AgentDefinition,
    provider: ProviderConfig,
    model: str,
    run_id: uuid.UUID,
    scope: records.Scope,
) -> RunState:
    """Insert run ``run_id``, starting from the system prompt and the task's input."""
    messages = initial_messages(
        agent.configuration,
        task.input_prompt,
        task.input_payload.get("input", task.input_payload),
    )
    first = sa.bindparam("first_messages", json.dumps(messages), type_=sa.Text)
    run = (
        sa.insert(_runs)
        .values(
            id=run_id,
            tenant_id=task.tenant_id,
            task_id=task.id,
            agent_id=agent.id,
            agent_name=agent.name,
            agent_version=agent.version,
            status=AgentRunStatus.RUNNING,
            model=model,
            message_count=len(messages),
        )
        .returning(*conversation.returning())
        .cte("run")
    )
    connection.execute(conversation.insert_after(run, sa.cast(first, JSONB)).add_cte(run))
    # A configuration that has not run in this tenant before becomes its ai_model_versions row.
    record_model_version(
        connection,
        task.tenant_id,
        agent.id,
        agent.version,
        agent.configuration.model_dump(mode="json", exclude_unset=True),
    )
    records.write(
        connection,
        events=[
            records.event(
                scope,
                EventType.AGENT_START,
                f"agent '{agent.name}' started",
                {
                    "model": model,
                    "provider": provider.name,
                    "tools": list(agent.configuration.tools),
                    "attempt": task.attempts,
                },
            )
        ],
    )
    return RunState(run_id, messages, 0, model)
