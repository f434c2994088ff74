"""Fork and replay: a new run made from another run's step (issue 16).

**A step** is counted as ``worker.agents.run_steps`` says: step 0 is the prompt and the input,
step N the N-th model reply with what followed it.

**A fork** at step N is a new task with a new run (``agent_runs.parent_run_id`` and
``forked_at_step`` link it to its parent) whose conversation is a copy of the parent's up to
step N, with the edits asked for; it is then driven like any run resumed from its persisted
messages, so no model call of steps 1..N is made again and no tool call of those steps runs
again: their results are in the copied messages. A step whose tool calls have no results yet
(the parent stopped in them) is the one place tool calls run again: as new calls, keyed by the
new run (``tool:<run>:<call id>``), never colliding with the parent's action_logs rows; a call
the parent recorded as succeeded keeps that result instead (``_carry_over_finished_calls``). The
parent is only read.

**A replay** is a fork of a FAILED run at its last good step: its last step, unless that step
is a final answer (which is what failed), then the one before.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from models import (
    ActionLog,
    ActionStatus,
    AgentRun,
    AgentRunStatus,
    EventType,
    Task,
    TaskStatus,
)
from worker.agents.run_steps import RunSteps, run_steps, run_uuid
from worker.agents.tool_calls import idempotency_key
from worker.core.errors import AgentWorkerError
from worker.core.settings import Settings
from worker.core.tenants import resolve_tenant
from worker.durable import conversation, dispatch, records
from worker.durable.dispatch import Release
from worker.durable.publishing import Publisher

__all__ = [
    "CannotFork",
    "Edit",
    "Forked",
    "fork_and_publish",
    "fork_run",
    "parse_edits",
    "replay_run",
]

_runs = AgentRun.__table__
_tasks = Task.__table__
_action_logs = ActionLog.__table__
_ENDED = (TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELLED)


class CannotFork(AgentWorkerError):
    """The fork or replay asked for cannot be made as asked; the message says what to do."""

    code = "cannot_fork"


@dataclass(frozen=True)
class Forked:
    """The new run and its task; publish ``releases`` after the commit."""

    run_id: uuid.UUID
    task_id: uuid.UUID
    parent_run_id: uuid.UUID
    at_step: int
    messages: int
    released: bool
    releases: tuple[Release, ...] = ()


@dataclass(frozen=True)
class Edit:
    """Replace the content of message ``seq`` (1-based) of the forked conversation."""

    seq: int | None
    content: str


def parse_edits(value: Any) -> list[Edit]:
    """``--edit-message``'s value (already decoded from JSON): ``{"content": "…"}`` edits the
    last message of the forked conversation, ``{"seq": N, "content": "…"}`` message N (the
    numbers ``runs show`` prints); a list of those makes several edits."""
    items = value if isinstance(value, list) else [value]
    if not items:
        raise CannotFork("--edit-message is an empty list; give at least one edit or leave it out")
    edits = []
    for item in items:
        if not isinstance(item, dict):
            raise CannotFork(_EDIT_SHAPE.format(got=json.dumps(item)[:100]))
        unknown = sorted(set(item) - {"seq", "content"})
        if unknown or "content" not in item:
            raise CannotFork(_EDIT_SHAPE.format(got=json.dumps(item)[:100]))
        seq, content = item.get("seq"), item["content"]
        if seq is not None and (not isinstance(seq, int) or isinstance(seq, bool) or seq < 1):
            raise CannotFork(f"--edit-message: seq must be a message number from 1, got {seq!r}")
        if not isinstance(content, str):
            raise CannotFork(
                "--edit-message: content must be text (a JSON string), got "
                + json.dumps(content)[:100]
            )
        edits.append(Edit(seq, content))
    return edits


_EDIT_SHAPE = (
    '--edit-message takes {{"content": "new text"}} (the last message at the fork point) or '
    '{{"seq": N, "content": "new text"}} (message N, as `agentworker runs show RUN` numbers '
    "them), or a list of those; got {got}"
)


def fork_run(
    connection: sa.Connection,
    settings: Settings,
    tenant_id: uuid.UUID,
    run_id: uuid.UUID,
    *,
    at_step: int,
    edits: Sequence[Edit] = (),
    replay: bool = False,
) -> Forked:
    """Create the fork of ``run_id`` at step ``at_step`` (see the module's note), in the
    caller's transaction; the caller publishes ``Forked.releases`` after its commit."""
    parent = run_steps(connection, tenant_id, run_id)
    _check_ended(parent, "fork")
    last = len(parent.steps) - 1
    if not 0 <= at_step <= last:
        raise CannotFork(
            f"run {run_id} has steps 0 to {last}; step {at_step} is out of range "
            f"(see them with `agentworker runs show {run_id} --tenant T`)",
            code="step_out_of_range",
        )
    messages = [dict(m) for m in parent.messages[: parent.steps[at_step].last_seq]]
    edited = _apply(messages, edits)
    task = connection.execute(sa.select(_tasks).where(_tasks.c.id == parent.task_id)).one()
    new_run = connection.execute(
        sa.select(_runs.c.agent_id, _runs.c.agent_version, _runs.c.model).where(
            _runs.c.id == run_id
        )
    ).one()
    payload = {
        **{k: v for k, v in dict(task.input_payload or {}).items() if k != "fork"},
        "fork": {"run_id": str(run_id), "at_step": at_step, "replay": replay},
    }
    task_id = connection.execute(
        sa.insert(_tasks)
        .values(
            tenant_id=tenant_id,
            title=task.title,
            input_prompt=task.input_prompt,
            input_payload=payload,
            agent_id=task.agent_id,
            agent_name=task.agent_name,
            priority=task.priority,
            metadata=task.metadata,
            queue=task.queue,
            released_at=None,
        )
        .returning(_tasks.c.id)
    ).scalar_one()
    fork_id = uuid.uuid4()
    first = sa.bindparam("fork_messages", json.dumps(messages), type_=sa.Text)
    run = (
        sa.insert(_runs)
        .values(
            id=fork_id,
            tenant_id=tenant_id,
            task_id=task_id,
            agent_id=new_run.agent_id,
            agent_name=parent.agent_name,
            agent_version=new_run.agent_version,
            status=AgentRunStatus.STARTED,
            model=new_run.model,
            message_count=len(messages),
            parent_run_id=run_id,
            forked_at_step=at_step,
        )
        .returning(*conversation.returning())
        .cte("run")
    )
    connection.execute(conversation.insert_after(run, sa.cast(first, JSONB)).add_cte(run))
    _carry_over_finished_calls(connection, run_id, fork_id, task_id, messages)
    what = "replayed" if replay else "forked"
    records.write(
        connection,
        events=[
            records.event(
                records.Scope(tenant_id, task_id, fork_id, agent_name=parent.agent_name),
                EventType.SYSTEM,
                f"{what} from run {run_id} at step {at_step} of {last} "
                f"({len(messages)} messages copied"
                + (f", message(s) {', '.join(map(str, edited))} edited)" if edited else ")"),
                {
                    "parent_run_id": str(run_id),
                    "parent_task_id": str(parent.task_id),
                    "at_step": at_step,
                    "messages": len(messages),
                    "edited": edited,
                    "replay": replay,
                },
            )
        ],
    )
    releases = tuple(dispatch.fill_window(connection, tenant_id, settings.tenant_max_in_flight))
    released = any(r.task_id == task_id for r in releases)
    return Forked(fork_id, task_id, run_id, at_step, len(messages), released, releases)


def _carry_over_finished_calls(
    connection: sa.Connection,
    parent_id: uuid.UUID,
    fork_id: uuid.UUID,
    task_id: uuid.UUID,
    messages: Sequence[dict[str, Any]],
) -> None:
    """The fork point's tool calls that have no result in the copied messages but succeeded
    in the parent (its worker died after the call and before the step was written) keep that
    result: their action_logs rows are copied under the fork's keys, so the fork replays them
    instead of acting twice. A call that failed, or whose outcome is unknown, runs again."""
    unanswered = _unanswered_calls(messages)
    if not unanswered:
        return
    columns = [
        c.name
        for c in _action_logs.columns
        if c.name
        not in {"id", "agent_run_id", "task_id", "idempotency_key", "created_at", "updated_at"}
    ]
    source = _action_logs.alias("parent_call")
    connection.execute(
        sa.insert(_action_logs).from_select(
            [*columns, "agent_run_id", "task_id", "idempotency_key"],
            sa.select(
                *(source.c[name] for name in columns),
                sa.literal(fork_id, sa.Uuid),
                sa.literal(task_id, sa.Uuid),
                sa.literal(idempotency_key(fork_id, "")) + source.c.tool_call_id,
            ).where(
                source.c.agent_run_id == parent_id,
                source.c.tool_call_id.in_(unanswered),
                source.c.status == ActionStatus.SUCCESS,
            ),
        )
    )


def _unanswered_calls(messages: Sequence[dict[str, Any]]) -> list[str]:
    """The ids of the last assistant message's tool calls that no later message answers."""
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if message.get("role") == "assistant":
            asked = [str(call.get("id")) for call in message.get("tool_calls") or []]
            answered = {m.get("tool_call_id") for m in messages[index + 1 :]}
            return [call_id for call_id in asked if call_id not in answered]
    return []


def replay_run(
    connection: sa.Connection, settings: Settings, tenant_id: uuid.UUID, run_id: uuid.UUID
) -> Forked:
    """Fork FAILED run ``run_id`` at its last good step (see the module's note)."""
    parent = run_steps(connection, tenant_id, run_id)
    _check_ended(parent, "replay")
    if parent.status != AgentRunStatus.FAILED.value:
        raise CannotFork(
            f"run {run_id} is {parent.status}, not FAILED: replay re-runs a failed run from its "
            f"last good step; to re-run this one from a step of your choice, use "
            f"`agentworker runs fork {run_id} --at STEP --tenant T`",
            code="run_not_failed",
        )
    at_step = len(parent.steps) - 1
    last = parent.steps[at_step]
    if at_step > 0 and not last.tool_calls:
        at_step -= 1  # its final answer is what failed: ask the model again
    return fork_run(connection, settings, tenant_id, run_id, at_step=at_step, replay=True)


def _check_ended(run: RunSteps, what: str) -> None:
    if run.task_status not in {s.value for s in _ENDED}:
        raise CannotFork(
            f"run {run.run_id} is still going (its task {run.task_id} is {run.task_status}); "
            f"{what} it once it has ended, or cancel it first "
            f"(`agentworker cancel {run.task_id} --tenant T`)",
            code="run_in_progress",
        )


def _apply(messages: list[dict[str, Any]], edits: Sequence[Edit]) -> list[int]:
    """Apply ``edits`` to ``messages`` in place; the numbers of the messages edited."""
    edited = []
    for edit in edits:
        seq = edit.seq if edit.seq is not None else len(messages)
        if not 1 <= seq <= len(messages):
            raise CannotFork(
                f"--edit-message: message {seq} is not in the forked conversation, which has "
                f"messages 1 to {len(messages)}; fork at a later step or pick one of those",
                code="step_out_of_range",
            )
        messages[seq - 1] = {**messages[seq - 1], "content": edit.content}
        edited.append(seq)
    return edited


def fork_and_publish(
    engine: sa.Engine,
    publisher: Publisher,
    settings: Settings,
    tenant: str,
    run_id: uuid.UUID | str,
    *,
    at_step: int | None,
    edits: Sequence[Edit] = (),
) -> Forked:
    """Commit the fork (``at_step``) or, with ``at_step`` None, the replay of ``run_id`` in
    ``tenant``'s scope (an id or slug), then publish its task if its tenant's window lets it
    through: the one way in for the client, the CLI and the API."""
    run = run_uuid(run_id)
    with engine.begin() as connection:
        tenant_id = resolve_tenant(connection, tenant)  # the transaction is in its scope
        if at_step is None:
            forked = replay_run(connection, settings, tenant_id, run)
        else:
            forked = fork_run(connection, settings, tenant_id, run, at_step=at_step, edits=edits)
    dispatch.publish_releases(publisher, forked.releases)
    return forked
