"""Dead letters for an operator (``agentworker dead-letters``): list them, send one again.

A dead letter (``worker.app.dead_letters``) is an ``ai_error_logs`` row of type ``message.*``.
Re-driving publishes its recorded message again, to the task it named, under its broker message
id: the handlers key what a message creates by that id (a task row, an execution), so a message
that got that far is continued, never duplicated. Only what can be sent exactly as it arrived is
re-driven (``redrive_refusal``): a keyword call (kwargs an object, no positional arguments) to a
task this worker consumes, whose kept body is intact (nothing redacted, cut or changed to be
storable; a secret would otherwise travel as "[REDACTED]"). The row is claimed with a guarded
UPDATE (not yet resolved) in the transaction that stays open while the message is published, so
two operators cannot re-drive it twice, and a failed publish leaves it as it was.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from models import AIErrorLog
from worker.core.errors import AgentWorkerError
from worker.durable.publishing import Publisher

DEAD_LETTER_TYPES = "message.%"


class DeadLetterNotFound(AgentWorkerError):
    code = "dead_letter_not_found"


class NotRedrivable(AgentWorkerError):
    code = "not_redrivable"


@dataclass(frozen=True)
class DeadLetter:
    """One dead letter as an operator sees it. ``refusal`` says why it cannot be re-driven
    (``None``: it can); ``redriven`` is when and as which message it was sent again."""

    id: uuid.UUID
    created_at: datetime
    task: str
    broker_message_id: str | None
    kind: str
    error: str
    tenant_id: uuid.UUID | None
    refusal: str | None
    redriven: dict[str, Any] | None
    body: Any


def consumed_tasks() -> frozenset[str]:
    """The task names this code's workers consume (Celery's own excluded)."""
    import importlib

    from worker.app.celery_app import TASK_MODULES, app

    for module in TASK_MODULES:
        importlib.import_module(module)
    return frozenset(name for name in app.tasks if not name.startswith("celery."))


def redrive_refusal(
    kind: str, context: Mapping[str, Any], known_tasks: frozenset[str]
) -> str | None:
    """Why this dead letter cannot be sent again as it arrived, or ``None`` when it can."""
    body = context.get("body")
    task = str(context.get("task"))
    if kind == "undecodable":
        return "its body could not be decoded, so there is no message to send again: fix the sender"
    if not context.get("body_intact") or not isinstance(body, Mapping):
        return (
            "its body was changed to be stored (a secret redacted, text cut or made storable), "
            "so sending it again would not send what arrived: send it again from its source"
        )
    if body.get("args") or not isinstance(body.get("kwargs"), Mapping):
        return (
            "it is not a keyword call (our tasks take kwargs as a JSON object and no positional "
            "arguments), so it would fail the same way: fix the sender"
        )
    if task not in known_tasks:
        return (
            f"no task named '{task}' is consumed here (known: {', '.join(sorted(known_tasks))}): "
            "fix the sender, or deploy the code that has it first"
        )
    return None


def _view(row: sa.Row[Any], known_tasks: frozenset[str]) -> DeadLetter:
    context = row.error_context or {}
    kind = row.error_type.removeprefix("message.")
    task = str(context.get("task", "?"))
    redriven = context.get("redriven")
    return DeadLetter(
        id=row.id,
        created_at=row.created_at,
        task=task,
        broker_message_id=context.get("broker_message_id"),
        kind=kind,
        error=row.error_message.removeprefix(f"{task}: "),
        tenant_id=row.tenant_id,
        refusal=None if redriven else redrive_refusal(kind, context, known_tasks),
        redriven=redriven if isinstance(redriven, dict) else None,
        body=context.get("body"),
    )


_COLUMNS = (
    AIErrorLog.id,
    AIErrorLog.created_at,
    AIErrorLog.error_type,
    AIErrorLog.error_message,
    AIErrorLog.error_context,
    AIErrorLog.tenant_id,
    AIErrorLog.is_resolved,
)


def list_dead_letters(
    connection: sa.Connection, *, limit: int, known_tasks: frozenset[str]
) -> tuple[list[DeadLetter], int]:
    """The newest ``limit`` dead letters, newest first, and how many there are in all."""
    where = AIErrorLog.error_type.like(DEAD_LETTER_TYPES)
    rows = connection.execute(
        sa.select(*_COLUMNS)
        .where(where)
        .order_by(AIErrorLog.created_at.desc(), AIErrorLog.id.desc())
        .limit(limit)
    ).all()
    total = connection.execute(sa.select(sa.func.count()).where(where)).scalar_one()
    return [_view(row, known_tasks) for row in rows], int(total)


def redrive(
    engine: sa.Engine,
    publisher: Publisher,
    letter_id: uuid.UUID,
    *,
    known_tasks: frozenset[str],
) -> DeadLetter:
    """Publish dead letter ``letter_id``'s message again and mark it re-driven, once.

    ``DeadLetterNotFound`` when there is no such dead letter; ``NotRedrivable`` (saying why)
    when it was re-driven already or cannot be sent as it arrived."""
    with engine.begin() as connection:
        claimed = connection.execute(
            sa.update(AIErrorLog)
            .where(
                AIErrorLog.id == letter_id,
                AIErrorLog.error_type.like(DEAD_LETTER_TYPES),
                AIErrorLog.is_resolved.is_(False),
            )
            .values(is_resolved=True, resolved_at=sa.func.now())
            .returning(*_COLUMNS)
        ).one_or_none()
        if claimed is None:
            raise _why_not_claimed(connection, letter_id)
        letter = _view(claimed, known_tasks)
        if letter.refusal is not None:
            raise NotRedrivable(f"dead letter {letter_id} cannot be re-driven: {letter.refusal}")
        message_id = letter.broker_message_id or str(uuid.uuid4())
        publisher.publish(letter.task, dict(letter.body["kwargs"]), task_id=message_id)
        redriven = {"at": datetime.now(UTC).isoformat(), "message_id": message_id}
        connection.execute(
            sa.update(AIErrorLog)
            .where(AIErrorLog.id == letter_id)
            .values(
                error_context=AIErrorLog.error_context.op("||")(
                    sa.bindparam(
                        "patch", {"redriven": redriven}, type_=AIErrorLog.error_context.type
                    )
                )
            )
        )
    return replace(letter, redriven=redriven)


def _why_not_claimed(connection: sa.Connection, letter_id: uuid.UUID) -> AgentWorkerError:
    row = connection.execute(
        sa.select(AIErrorLog.error_context, AIErrorLog.resolved_at).where(
            AIErrorLog.id == letter_id, AIErrorLog.error_type.like(DEAD_LETTER_TYPES)
        )
    ).one_or_none()
    if row is None:
        return DeadLetterNotFound(
            f"no dead letter with id {letter_id}: `agentworker dead-letters list` shows them"
        )
    redriven = (row.error_context or {}).get("redriven")
    if isinstance(redriven, dict):
        return NotRedrivable(
            f"dead letter {letter_id} was re-driven at {redriven.get('at')} as message "
            f"{redriven.get('message_id')}: it is not sent twice"
        )
    return NotRedrivable(
        f"dead letter {letter_id} was marked resolved at {row.resolved_at}: nothing to re-drive"
    )
