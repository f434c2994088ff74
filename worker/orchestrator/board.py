"""Seed 004's Kanban board: cards (``board_tasks``) with a status, a column and an order.

A status change follows the board's transitions (``worker.durable.states.BOARD_TASK``) as one
guarded UPDATE; a move that keeps the status only reorders. A card lands at the end of its
column unless the move names a position, in which case the cards from there on shift down by
one. The card's row is locked for the move, so two moves of one card apply one after the
other and the second sees the first.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from models import BoardTask, BoardTaskStatus
from worker.durable.states import BOARD_TASK
from worker.orchestrator.errors import MoveRefused, NotFound

_cards = BoardTask.__table__
#: The column a card of each status sits in unless a move names another.
DEFAULT_COLUMN = {status: status.value for status in BoardTaskStatus}


@dataclass(frozen=True)
class Card:
    id: uuid.UUID
    tenant_id: uuid.UUID
    project_id: uuid.UUID
    prompt_id: uuid.UUID | None
    orchestration_task_id: uuid.UUID | None
    title: str
    description: str | None
    status: BoardTaskStatus
    column: str | None
    position: int

    @classmethod
    def of(cls, row: sa.Row[Any]) -> Card:
        return cls(
            id=row.id,
            tenant_id=row.tenant_id,
            project_id=row.project_id,
            prompt_id=row.prompt_id,
            orchestration_task_id=row.orchestration_task_id,
            title=row.title,
            description=row.description,
            status=BoardTaskStatus(row.status),
            column=row.column,
            position=row.order,
        )


def add_card(
    connection: sa.Connection,
    *,
    tenant_id: uuid.UUID,
    project_id: uuid.UUID,
    title: str,
    description: str | None = None,
    prompt_id: uuid.UUID | None = None,
    status: BoardTaskStatus = BoardTaskStatus.BACKLOG,
    column: str | None = None,
) -> Card:
    """A new card at the end of its column."""
    column = column or DEFAULT_COLUMN[status]
    row = connection.execute(
        sa.insert(_cards)
        .values(
            tenant_id=tenant_id,
            project_id=project_id,
            title=title,
            description=description,
            prompt_id=prompt_id,
            status=status,
            column=column,
            order=_end_of(connection, project_id, column),
        )
        .returning(*_cards.c)
    ).one()
    return Card.of(row)


def move_card(
    connection: sa.Connection,
    card_id: uuid.UUID,
    new_status: BoardTaskStatus,
    *,
    new_column: str | None = None,
    new_order: int | None = None,
    values: dict[str, Any] | None = None,
) -> Card:
    """Move the card (seed 004's ``TaskMove``); ``values`` are further columns to set with
    the move (``orchestration_task_id``). Refuses a status change the board does not allow."""
    card = load_card(connection, card_id, for_update=True)
    column = new_column or (
        card.column if new_status == card.status else DEFAULT_COLUMN[new_status]
    )
    if new_order is None:
        order = (
            card.position if column == card.column else _end_of(connection, card.project_id, column)
        )
    else:
        order = new_order
        _make_room(connection, card, column, order)
    changes = {"column": column, "order": order, **(values or {})}
    if new_status == card.status:
        row = connection.execute(
            sa.update(_cards).where(_cards.c.id == card_id).values(changes).returning(*_cards.c)
        ).one()
        return Card.of(row)
    if not BOARD_TASK.can(card.status, new_status):
        allowed = sorted(s.value for s in BOARD_TASK.transitions[card.status])
        raise MoveRefused(
            f"board task {card_id} is {card.status.value} and cannot move to "
            f"{new_status.value}; from {card.status.value} it may move to "
            + (", ".join(allowed) if allowed else "nothing (done is final)")
        )
    moved = BOARD_TASK.apply(
        connection, card_id, new_status, values=changes, returning=list(_cards.c)
    )
    assert moved is not None  # the row is locked and its status was just read
    return Card.of(moved)


def load_card(connection: sa.Connection, card_id: uuid.UUID, *, for_update: bool = False) -> Card:
    query = sa.select(_cards).where(_cards.c.id == card_id)
    row = connection.execute(query.with_for_update() if for_update else query).one_or_none()
    if row is None:
        raise NotFound(
            f"no board task {card_id} in this tenant; list them with GET /v1/board-tasks"
        )
    return Card.of(row)


def cards_of(
    connection: sa.Connection,
    project_id: uuid.UUID,
    statuses: tuple[BoardTaskStatus, ...] = tuple(BoardTaskStatus),
) -> list[Card]:
    """The project's cards in board order: by column's status order, then position."""
    rank = sa.case({s.value: i for i, s in enumerate(BoardTaskStatus)}, value=_cards.c.status)
    rows = connection.execute(
        sa.select(_cards)
        .where(_cards.c.project_id == project_id, _cards.c.status.in_(statuses))
        .order_by(rank, _cards.c.column, _cards.c.order, _cards.c.created_at)
    ).all()
    return [Card.of(row) for row in rows]


def _end_of(connection: sa.Connection, project_id: uuid.UUID, column: str) -> int:
    last = connection.execute(
        sa.select(sa.func.max(_cards.c.order)).where(
            _cards.c.project_id == project_id, _cards.c.column == column
        )
    ).scalar_one_or_none()
    return 0 if last is None else last + 1


def _make_room(connection: sa.Connection, card: Card, column: str, order: int) -> None:
    """Shift the column's cards at ``order`` and after down by one (not the card itself)."""
    connection.execute(
        sa.update(_cards)
        .where(
            _cards.c.project_id == card.project_id,
            _cards.c.column == column,
            _cards.c.order >= order,
            _cards.c.id != card.id,
        )
        .values(order=_cards.c.order + 1)
    )
