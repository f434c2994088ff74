"""The ``board`` step: a project's backlog worked card by card, each ending in a commit.

When reached, the step takes the first ``cards`` cards of the backlog and to-do columns (board
order). For each it opens the card's chat session (or continues the one a person opened with
notes), gives the ``agent`` a task with the card and its composed prompt, and moves the card to
in progress. When that task succeeds its conversation is the session's messages, the card
moves to review and the ``committer`` gets a task to propose the card's Conventional Commit;
its ``commit_changes`` tool needs an approval, so the commit row is written (and the card
moved to done) only once an approver accepts it. A rejected commit sends the card back to
to-do; a failed task fails the step. Each card's progress is the step run's output, moved
under the execution's lock, so a redelivered advance moves nothing twice.
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from models import (
    AgentRun,
    AIWorkflowStepRun,
    Approval,
    BoardTaskStatus,
    ChatSession,
    ChatSessionStatus,
    StepRunStatus,
    Task,
    TaskStatus,
)
from worker.durable import conversation
from worker.durable.states import CHAT_SESSION
from worker.orchestrator import Card, cards_of, compose, load_card, move_card, setting
from worker.workflows.advancing import Advance, Fail, Goto, StepOutcome, Wait
from worker.workflows.definition import BoardStep
from worker.workflows.interview_step import no_project, project_of
from worker.workflows.step_tasks import create_step_task

_tasks = Task.__table__
_runs = AgentRun.__table__
_sessions = ChatSession.__table__
_step_runs = AIWorkflowStepRun.__table__
_OUTPUT = "cards"
#: A card's phases in the step's output; the first two wait on a task.
WORKING, COMMITTING, DONE, REJECTED, FAILED = "working", "committing", "done", "rejected", "failed"
_ENDED = {TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELLED}


def board_step(state: Advance, step: BoardStep) -> StepOutcome:
    run = state.step_run(step.key, "board")
    status = StepRunStatus(run.status)
    if status in (StepRunStatus.COMPLETED, StepRunStatus.SKIPPED):
        return Goto(state.following(step.key))
    if status == StepRunStatus.PENDING:
        return _take_cards(state, step)
    if status != StepRunStatus.RUNNING:
        return Fail(f"step '{step.key}' is {status.value}")
    cards: dict[str, dict[str, Any]] = dict((run.output or {}).get(_OUTPUT, {}))
    followed = {card_id: _follow(state, step, card_id, entry) for card_id, entry in cards.items()}
    if followed != cards:
        _save_progress(state, step, followed)
    if any(entry["phase"] in (WORKING, COMMITTING) for entry in followed.values()):
        return Wait()
    failed = [e for e in followed.values() if e["phase"] == FAILED]
    if failed:
        reason = f"board task '{failed[0]['title']}' failed: {failed[0].get('error')}"
        state.transition(
            step.key,
            StepRunStatus.FAILED,
            output={_OUTPUT: followed},
            error=reason,
            finished_at=sa.func.now(),
        )
        return Fail(reason)
    state.transition(
        step.key,
        StepRunStatus.COMPLETED,
        output={_OUTPUT: followed},
        finished_at=sa.func.now(),
    )
    return Goto(state.following(step.key))


def _take_cards(state: Advance, step: BoardStep) -> StepOutcome:
    project_id = project_of(state, step.project)
    if project_id is None:
        reason = no_project(step.key)
        state.transition(step.key, StepRunStatus.FAILED, error=reason, finished_at=sa.func.now())
        return Fail(reason)
    count = step.cards or int(
        setting(state.connection, state.execution.tenant_id, "orchestrator.board.cards_per_run")
    )
    waiting = (BoardTaskStatus.BACKLOG, BoardTaskStatus.TODO)
    cards = cards_of(state.connection, project_id, waiting)[:count]
    taken = {str(card.id): _start_work(state, step, card) for card in cards}
    state.transition(
        step.key,
        StepRunStatus.RUNNING,
        started_at=sa.func.now(),
        attempts=state.step_runs[step.key].attempts + 1,
        input={"project_id": str(project_id), "cards": list(taken)},
        output={_OUTPUT: taken},
    )
    if not taken:  # an empty backlog: nothing to do
        return board_step(state, step)
    return Wait()


def _start_work(state: Advance, step: BoardStep, card: Card) -> dict[str, Any]:
    session_id, notes = _chat_session(state, card)
    task_id = create_step_task(
        state,
        step.key,
        step.agent,
        _work_request(state, card, notes),
        round_key=f"card:{card.id}:work",
        title=f"{card.title} ({step.agent})",
        about={"board_task_id": str(card.id), "chat_session_id": str(session_id)},
    )
    move_card(
        state.connection,
        card.id,
        BoardTaskStatus.IN_PROGRESS,
        values={"orchestration_task_id": task_id},
    )
    return {
        "title": card.title,
        "phase": WORKING,
        "task_id": str(task_id),
        "chat_session_id": str(session_id),
        "rounds": 1,
    }


def _follow(state: Advance, step: BoardStep, card_id: str, entry: dict[str, Any]) -> dict[str, Any]:
    if entry["phase"] not in (WORKING, COMMITTING):
        return entry
    task_key = "task_id" if entry["phase"] == WORKING else "commit_task_id"
    task = state.connection.execute(
        sa.select(_tasks.c.status, _tasks.c.result, _tasks.c.error).where(
            _tasks.c.id == uuid.UUID(entry[task_key])
        )
    ).one()
    if TaskStatus(task.status) not in _ENDED:
        return entry
    if entry["phase"] == WORKING:
        return _work_ended(state, step, uuid.UUID(card_id), entry, task)
    return _commit_ended(state, uuid.UUID(card_id), entry, task)


def _work_ended(
    state: Advance, step: BoardStep, card_id: uuid.UUID, entry: dict[str, Any], task: Any
) -> dict[str, Any]:
    session_id = uuid.UUID(entry["chat_session_id"])
    messages, model = _conversation(state, uuid.UUID(entry["task_id"]))
    succeeded = task.status == TaskStatus.SUCCEEDED
    CHAT_SESSION.apply(
        state.connection,
        session_id,
        ChatSessionStatus.COMPLETED if succeeded else ChatSessionStatus.FAILED,
        values={"messages": _sessions.c.messages.op("||")(_json(messages)), "ai_model_used": model},
    )
    if not succeeded:
        move_card(state.connection, card_id, BoardTaskStatus.TODO)
        return {**entry, "phase": FAILED, "error": task.error}
    card = move_card(state.connection, card_id, BoardTaskStatus.REVIEW)
    output = (task.result or {}).get("output")
    commit_task = create_step_task(
        state,
        step.key,
        step.committer,
        _commit_request(card, output),
        round_key=f"card:{card_id}:commit:{entry.get('rounds', 1)}",
        title=f"commit: {card.title} ({step.committer})",
        about={"board_task_id": str(card_id), "chat_session_id": str(session_id)},
    )
    return {**entry, "phase": COMMITTING, "commit_task_id": str(commit_task)}


def _commit_ended(
    state: Advance, card_id: uuid.UUID, entry: dict[str, Any], task: Any
) -> dict[str, Any]:
    card = load_card(state.connection, card_id)
    if card.status == BoardTaskStatus.DONE:
        return {**entry, "phase": DONE}
    if task.status != TaskStatus.SUCCEEDED:
        if card.status == BoardTaskStatus.REVIEW:
            move_card(state.connection, card_id, BoardTaskStatus.TODO)
        return {**entry, "phase": FAILED, "error": task.error}
    # The committer finished without a commit: its approver rejected the commit it proposed.
    if card.status == BoardTaskStatus.REVIEW:
        move_card(state.connection, card_id, BoardTaskStatus.TODO)
    return {
        **entry,
        "phase": REJECTED,
        "reason": _rejection(state, uuid.UUID(entry["commit_task_id"])),
    }


def _chat_session(state: Advance, card: Card) -> tuple[uuid.UUID, list[Any]]:
    """The card's active chat session (a person may have opened one with notes), or a new
    one; and the notes it holds."""
    row = state.connection.execute(
        sa.select(_sessions.c.id, _sessions.c.messages)
        .where(
            _sessions.c.board_task_id == card.id,
            _sessions.c.status == ChatSessionStatus.ACTIVE,
        )
        .order_by(_sessions.c.created_at.desc())
        .limit(1)
    ).one_or_none()
    if row is not None:
        return row.id, list(row.messages or [])
    session_id: uuid.UUID = state.connection.execute(
        sa.insert(_sessions)
        .values(tenant_id=card.tenant_id, board_task_id=card.id)
        .returning(_sessions.c.id)
    ).scalar_one()
    return session_id, []


def _work_request(state: Advance, card: Card, notes: list[Any]) -> str:
    parts = [f"Board task: {card.title}"]
    if card.description:
        parts.append(card.description)
    if card.prompt_id is not None:
        parts.append("Follow this prompt:\n" + compose(state.connection, card.prompt_id))
    said = [str(n.get("content")) for n in notes if isinstance(n, dict) and n.get("content")]
    if said:
        parts.append("Notes on this task:\n" + "\n".join(f"- {n}" for n in said))
    return "\n\n".join(parts)


def _commit_request(card: Card, output: Any) -> str:
    return (
        f"Board task '{card.title}' is done and in review. Write its Conventional Commit "
        f"with commit_changes. What was done:\n{output if output is not None else '(nothing)'}"
    )


def _conversation(state: Advance, task_id: uuid.UUID) -> tuple[list[Any], str | None]:
    """The task's latest run's messages (without the system prompt) and its model."""
    row = state.connection.execute(
        sa.select(conversation.of(_runs.c.id).label("messages"), _runs.c.model)
        .where(_runs.c.task_id == task_id)
        .order_by(_runs.c.started_at.desc())
        .limit(1)
    ).one_or_none()
    if row is None:
        return [], None
    return [m for m in row.messages or [] if m.get("role") != "system"], row.model


def _rejection(state: Advance, task_id: uuid.UUID) -> str | None:
    comment: str | None = state.connection.execute(
        sa.select(Approval.decision_comment)
        .where(Approval.task_id == task_id)
        .order_by(Approval.created_at.desc())
        .limit(1)
    ).scalar_one_or_none()
    return comment


def _save_progress(state: Advance, step: BoardStep, cards: dict[str, Any]) -> None:
    """The cards' progress while the step runs (its status stays RUNNING)."""
    run = state.step_runs[step.key]
    state.step_runs[step.key] = state.connection.execute(
        sa.update(_step_runs)
        .where(_step_runs.c.id == run.id)
        .values(output={_OUTPUT: cards})
        .returning(*_step_runs.c)
    ).one()


def _json(value: Any) -> sa.BindParameter[Any]:
    return sa.bindparam(None, value, type_=JSONB)
