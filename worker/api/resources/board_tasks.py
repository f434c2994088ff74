"""``/v1/board-tasks``: the cards of a project's Kanban board (seed 004's ``Task``; our table is
``board_tasks``, since ``tasks`` are orchestration tasks).

A card's status changes only through ``POST /v1/board-tasks/{id}/move`` (seed 004's
``TaskMove``), which applies the board's transitions (``move_card``): a move they refuse is 409
and names the moves allowed. A move that keeps the status reorders the card. ``PATCH`` changes
the title and description only.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Query, Response
from pydantic import Field

from models import BoardTask, BoardTaskStatus, ChatSession, Commit, Project, Prompt
from worker.api.problems import invalid, not_found
from worker.api.resources._common import (
    Body,
    Caller,
    Out,
    Page,
    PagingParams,
    caller,
    changed_fields,
    out,
    require_row,
    table_of,
)
from worker.orchestrator import Card, add_card, cards_of, load_card, move_card
from worker.security.principals import Scope

_cards = table_of(BoardTask)
HOW_TO_FIND = "list them with GET /v1/board-tasks?project_id=…"
Column = Annotated[str, Field(min_length=1, max_length=50)]


class TaskCreate(Body):
    project_id: uuid.UUID
    title: Annotated[str, Field(min_length=1, max_length=255)]
    description: str | None = None
    status: BoardTaskStatus = BoardTaskStatus.BACKLOG
    column: Column | None = Field(default=None, description="Defaults to the status's column.")
    prompt_id: uuid.UUID | None = None


class TaskUpdate(Body):
    """The title and description; the status, column and order change by a move."""

    title: Annotated[str, Field(min_length=1, max_length=255)] | None = None
    description: str | None = None


class TaskMove(Body):
    new_status: BoardTaskStatus
    new_column: Column | None = None
    new_order: int | None = Field(
        default=None, ge=0, description="Position in the column; the cards from there shift."
    )


class TaskResponse(Out):
    id: uuid.UUID
    project_id: uuid.UUID
    prompt_id: uuid.UUID | None
    orchestration_task_id: uuid.UUID | None
    title: str
    description: str | None
    status: BoardTaskStatus
    column: str | None
    order: int
    created_at: datetime
    updated_at: datetime


class TaskWithRelations(TaskResponse):
    chat_session_count: int
    commit_count: int


def _count(table: sa.Table) -> sa.ScalarSelect[int]:
    return (
        sa.select(sa.func.count())
        .select_from(table)
        .where(table.c.board_task_id == _cards.c.id)
        .scalar_subquery()
    )


_WITH_COUNTS = sa.select(
    _cards,
    _count(table_of(ChatSession)).label("chat_session_count"),
    _count(table_of(Commit)).label("commit_count"),
)


def _one(connection: sa.Connection, card_id: uuid.UUID) -> TaskWithRelations:
    row = connection.execute(_WITH_COUNTS.where(_cards.c.id == card_id)).one_or_none()
    if row is None:
        raise not_found(f"no board task {card_id} in this tenant; {HOW_TO_FIND}")
    return out(TaskWithRelations, row)


def _placement(card: Card) -> dict[str, Any]:
    return {"status": card.status.value, "column": card.column, "order": card.position}


def router() -> APIRouter:
    routes = APIRouter(prefix="/v1/board-tasks", tags=["board tasks"])
    reader, submitter = caller(Scope.READ), caller(Scope.SUBMIT)

    @routes.post("", status_code=201, summary="Add a card at the end of its column")
    def create_task(
        body: TaskCreate, response: Response, who: Caller = submitter
    ) -> TaskWithRelations:
        with who.transaction() as connection:
            require_row(
                connection,
                table_of(Project),
                body.project_id,
                "project",
                "create it with POST /v1/projects",
            )
            if body.prompt_id is not None:
                require_row(
                    connection,
                    table_of(Prompt),
                    body.prompt_id,
                    "prompt",
                    "name a prompt of this project (GET /v1/prompts?project_id=…)",
                    project_id=body.project_id,
                )
            card = add_card(
                connection,
                tenant_id=who.tenant_id,
                project_id=body.project_id,
                title=body.title,
                description=body.description,
                prompt_id=body.prompt_id,
                status=body.status,
                column=body.column,
            )
            who.audit(
                connection,
                "board_task.created",
                "board_task",
                card.id,
                {"project_id": card.project_id, "title": card.title, **_placement(card)},
            )
            created = _one(connection, card.id)
        response.headers["Location"] = f"/v1/board-tasks/{card.id}"
        return created

    @routes.get("", summary="A project's board, in board order")
    def list_tasks(
        paging: PagingParams,
        project_id: Annotated[
            uuid.UUID | None, Query(description="The project whose board to list (required).")
        ] = None,
        status: Annotated[
            list[BoardTaskStatus] | None, Query(description="Only these states (repeatable).")
        ] = None,
        who: Caller = reader,
    ) -> Page[TaskResponse]:
        if project_id is None:
            raise invalid("name the board to list: GET /v1/board-tasks?project_id=<project id>")
        with who.transaction() as connection:
            cards = cards_of(connection, project_id, tuple(status or BoardTaskStatus))
            window = cards[paging.offset : paging.offset + paging.limit + 1]
            rows = {
                row.id: row
                for row in connection.execute(
                    sa.select(_cards).where(_cards.c.id.in_([c.id for c in window]))
                )
            }
        items = [out(TaskResponse, rows[c.id]) for c in window if c.id in rows]
        return Page[TaskResponse](**paging.page(items))

    @routes.get("/{task_id}", summary="A card with its counts")
    def get_task(task_id: uuid.UUID, who: Caller = reader) -> TaskWithRelations:
        with who.transaction() as connection:
            return _one(connection, task_id)

    @routes.patch("/{task_id}", summary="Change a card's title or description")
    def update_task(
        task_id: uuid.UUID, body: TaskUpdate, who: Caller = submitter
    ) -> TaskWithRelations:
        values = changed_fields(
            body, "board task", "title, description (move it to change its status, column or order)"
        )
        if "title" in values and values["title"] is None:
            raise invalid("a board task's title cannot be null: send a title or leave it out")
        with who.transaction() as connection:
            updated = connection.execute(
                sa.update(_cards)
                .where(_cards.c.id == task_id)
                .values(values)
                .returning(_cards.c.id)
            ).scalar_one_or_none()
            if updated is None:
                raise not_found(f"no board task {task_id} in this tenant; {HOW_TO_FIND}")
            who.audit(connection, "board_task.updated", "board_task", task_id, values)
            return _one(connection, task_id)

    @routes.post(
        "/{task_id}/move",
        summary="Move a card: change its status (by the board's transitions) or reorder it",
        responses={409: {"description": "The transitions refuse this status change"}},
    )
    def move_task(task_id: uuid.UUID, body: TaskMove, who: Caller = submitter) -> TaskWithRelations:
        with who.transaction() as connection:
            before = load_card(connection, task_id, for_update=True)
            after = move_card(
                connection,
                task_id,
                body.new_status,
                new_column=body.new_column,
                new_order=body.new_order,
            )
            who.audit(
                connection,
                "board_task.moved",
                "board_task",
                task_id,
                {"from": _placement(before), "to": _placement(after)},
            )
            return _one(connection, task_id)

    @routes.delete("/{task_id}", status_code=204, summary="Delete a card (and its chats, commits)")
    def delete_task(task_id: uuid.UUID, who: Caller = submitter) -> Response:
        with who.transaction() as connection:
            title = connection.execute(
                sa.delete(_cards).where(_cards.c.id == task_id).returning(_cards.c.title)
            ).scalar_one_or_none()
            if title is None:
                raise not_found(f"no board task {task_id} in this tenant; {HOW_TO_FIND}")
            who.audit(connection, "board_task.deleted", "board_task", task_id, {"title": title})
        return Response(status_code=204)

    return routes
