"""AI-generated commits in the Conventional Commits form (seed 004's ``commits``).

The message is built here from its parts, so every stored message parses: ``type(scope)!:
description``, a blank line, then the body. A commit is written for a card in review, and the
card moves to done in the same transaction: a commit without its done card (or the reverse)
never exists.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from models import BoardTaskStatus, Commit, CommitType
from worker.orchestrator.board import load_card, move_card
from worker.orchestrator.errors import InvalidCommit

_commits = Commit.__table__
_SCOPE = re.compile(r"^[a-z0-9][a-z0-9._/-]{0,39}$")
MAX_DESCRIPTION_CHARS = 100


@dataclass(frozen=True)
class WrittenCommit:
    id: uuid.UUID
    board_task_id: uuid.UUID
    type: CommitType
    message: str


def conventional_message(
    commit_type: CommitType,
    description: str,
    *,
    scope: str | None = None,
    body: str | None = None,
    breaking: bool = False,
) -> str:
    """``type(scope)!: description`` and the body after a blank line."""
    description = description.strip()
    if not description or "\n" in description:
        raise InvalidCommit(
            "a commit description is one line saying what changed, e.g. 'add sign-in page'"
        )
    if len(description) > MAX_DESCRIPTION_CHARS:
        raise InvalidCommit(
            f"a commit description has at most {MAX_DESCRIPTION_CHARS} characters (this one "
            f"has {len(description)}); move the detail into the body"
        )
    if scope is not None and not _SCOPE.match(scope):
        raise InvalidCommit(
            f"commit scope {scope!r} must be a short lower-case noun such as 'api' or 'board'"
        )
    header = CommitType(commit_type).value
    header += f"({scope})" if scope else ""
    header += "!" if breaking else ""
    header += f": {description}"
    return f"{header}\n\n{body.strip()}" if body and body.strip() else header


def write_commit(
    connection: sa.Connection,
    *,
    board_task_id: uuid.UUID,
    commit_type: CommitType,
    message: str,
    changes: dict[str, Any],
    model: str | None,
    author: str,
) -> WrittenCommit:
    """The card's commit, and the card moved from review to done."""
    card = load_card(connection, board_task_id, for_update=True)
    if card.status != BoardTaskStatus.REVIEW:
        raise InvalidCommit(
            f"board task {board_task_id} is {card.status.value}; a commit is written for a "
            "task in review (move it to review first)"
        )
    row = connection.execute(
        sa.insert(_commits)
        .values(
            tenant_id=card.tenant_id,
            board_task_id=card.id,
            project_id=card.project_id,
            type=commit_type,
            message=message,
            changes=changes,
            created_by_ai_model=model,
            author=author,
        )
        .returning(_commits.c.id)
    ).one()
    move_card(connection, card.id, BoardTaskStatus.DONE)
    return WrittenCommit(row.id, card.id, CommitType(commit_type), message)
