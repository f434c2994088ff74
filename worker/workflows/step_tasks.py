"""The task a step gives an agent: once per (execution, step, attempt, round) by its
idempotency key, inserted in the advance's transaction and woken after its commit. It goes
through its tenant's window like any submission (``worker.durable.dispatch``): held behind
the tenant's tasks in flight, it is woken when one of them finishes."""

from __future__ import annotations

import uuid
from typing import Any

from models import Task
from worker.agents.definitions import find_agent
from worker.core.contract import RUN_TASK
from worker.core.settings import get_settings
from worker.durable import dispatch
from worker.durable.publishing import Wake
from worker.durable.rows import insert_once
from worker.workflows.advancing import Advance

_tasks = Task.__table__


def create_step_task(
    state: Advance,
    step_key: str,
    agent_name: str,
    value: Any,
    *,
    round_key: str = "",
    title: str | None = None,
    about: dict[str, str] | None = None,
) -> uuid.UUID:
    """``value`` is the agent's input; ``round_key`` tells apart the tasks one step run gives
    (an interview's questions, a board's cards): the same key is the same task. ``about``
    names the rows the task works on (``{"board_task_id": …}``) for its tools to read from the
    task, never from the model's arguments."""
    execution = state.execution
    agent = find_agent(state.connection, execution.tenant_id, agent_name)
    attempt = state.step_runs[step_key].attempt
    key = f"workflow:{execution.id}:{step_key}" + (f":{attempt}" if attempt > 1 else "")
    key += f":{round_key}" if round_key else ""
    inserted = insert_once(
        state.connection,
        _tasks,  # type: ignore[arg-type]
        {
            "tenant_id": execution.tenant_id,
            "agent_id": agent.id,
            "agent_name": agent.name,
            "title": title or f"{step_key} ({agent_name})",
            "input_prompt": value if isinstance(value, str) else None,
            "input_payload": {"input": value, **(about or {})},
            "workflow_execution_id": execution.id,
            "workflow_step": step_key,
            "idempotency_key": key,
            "queue": "agents",
            "released_at": None,
        },
        key=["tenant_id", "idempotency_key"],
        returning=[_tasks.c.id, _tasks.c.released_at],
    )
    task_id: uuid.UUID = inserted.row.id
    if inserted.created:
        window = get_settings().tenant_max_in_flight
        for release in dispatch.fill_window(state.connection, execution.tenant_id, window):
            state.wakes.append(Wake(RUN_TASK, {"task_id": str(release.task_id)}))
    elif inserted.row.released_at is not None:
        # Woken again as before: a lost message of a released task costs nothing twice.
        state.wakes.append(Wake(RUN_TASK, {"task_id": str(task_id)}))
    return task_id
