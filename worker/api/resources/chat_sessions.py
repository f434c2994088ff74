"""``/v1/chat-sessions``: a board task's chats with an AI (seed 004's ``ChatSession``).

A session starts active; a person adds messages (seed 004's ``ChatSessionAddMessage``) only
while it is active. Each message is one JSONB append (``messages || '[…]'``) guarded by the
status, so two writers never lose each other's message and an ended session takes none.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Response
from pydantic import Field
from sqlalchemy.dialects.postgresql import JSONB

from models import BoardTask, ChatSession, ChatSessionStatus
from worker.api.problems import conflict, not_found
from worker.api.resources._common import (
    Body,
    Caller,
    Out,
    Page,
    PagingParams,
    caller,
    out,
    require_row,
    table_of,
)
from worker.security.principals import Scope

_sessions = table_of(ChatSession)
HOW_TO_FIND = "list them with GET /v1/chat-sessions?board_task_id=…"
MAX_MESSAGE_CHARS = 100_000


class ChatSessionCreate(Body):
    board_task_id: uuid.UUID
    ai_model_used: Annotated[str, Field(min_length=1, max_length=100)] | None = None


class ChatSessionAddMessage(Body):
    role: Literal["user"] = Field(description="Messages added through the API are the user's.")
    content: Annotated[str, Field(min_length=1, max_length=MAX_MESSAGE_CHARS)]


class ChatSessionResponse(Out):
    id: uuid.UUID
    board_task_id: uuid.UUID
    messages: list[Any]
    ai_model_used: str | None
    status: ChatSessionStatus
    created_at: datetime
    updated_at: datetime


def _one(connection: sa.Connection, session_id: uuid.UUID) -> ChatSessionResponse:
    row = require_row(connection, _sessions, session_id, "chat session", HOW_TO_FIND)
    return out(ChatSessionResponse, row)


def router() -> APIRouter:
    routes = APIRouter(prefix="/v1/chat-sessions", tags=["chat sessions"])
    reader, submitter = caller(Scope.READ), caller(Scope.SUBMIT)

    @routes.get("", summary="The tenant's chat sessions, newest first")
    def list_sessions(
        paging: PagingParams, board_task_id: uuid.UUID | None = None, who: Caller = reader
    ) -> Page[ChatSessionResponse]:
        query = sa.select(_sessions).order_by(_sessions.c.created_at.desc(), _sessions.c.id)
        if board_task_id is not None:
            query = query.where(_sessions.c.board_task_id == board_task_id)
        with who.transaction() as connection:
            rows = connection.execute(paging.apply(query)).all()
        return Page[ChatSessionResponse](**paging.page([out(ChatSessionResponse, r) for r in rows]))

    @routes.get("/{session_id}", summary="A chat session and its messages")
    def get_session(session_id: uuid.UUID, who: Caller = reader) -> ChatSessionResponse:
        with who.transaction() as connection:
            return _one(connection, session_id)

    @routes.post("", status_code=201, summary="Start a chat session for a board task")
    def create_session(
        body: ChatSessionCreate, response: Response, who: Caller = submitter
    ) -> ChatSessionResponse:
        with who.transaction() as connection:
            require_row(
                connection,
                table_of(BoardTask),
                body.board_task_id,
                "board task",
                "list them with GET /v1/board-tasks?project_id=…",
            )
            session_id = connection.execute(
                sa.insert(_sessions)
                .values(
                    tenant_id=who.tenant_id,
                    board_task_id=body.board_task_id,
                    ai_model_used=body.ai_model_used,
                    status=ChatSessionStatus.ACTIVE,
                )
                .returning(_sessions.c.id)
            ).scalar_one()
            who.audit(
                connection,
                "chat_session.created",
                "chat_session",
                session_id,
                {"board_task_id": body.board_task_id},
            )
            created = _one(connection, session_id)
        response.headers["Location"] = f"/v1/chat-sessions/{session_id}"
        return created

    @routes.post(
        "/{session_id}/messages",
        status_code=201,
        summary="Add the user's message to an active session",
        responses={409: {"description": "The session has ended"}},
    )
    def add_message(
        session_id: uuid.UUID, body: ChatSessionAddMessage, who: Caller = submitter
    ) -> ChatSessionResponse:
        message = {
            "role": body.role,
            "content": body.content,
            "author": who.actor,
            "timestamp": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        appended = _sessions.c.messages.op("||")(sa.bindparam(None, [message], type_=JSONB))
        with who.transaction() as connection:
            added = connection.execute(
                sa.update(_sessions)
                .where(
                    _sessions.c.id == session_id,
                    _sessions.c.status == ChatSessionStatus.ACTIVE,
                )
                .values(messages=appended)
                .returning(sa.func.jsonb_array_length(_sessions.c.messages))
            ).scalar_one_or_none()
            if added is None:
                status = connection.execute(
                    sa.select(_sessions.c.status).where(_sessions.c.id == session_id)
                ).scalar_one_or_none()
                if status is None:
                    raise not_found(f"no chat session {session_id} in this tenant; {HOW_TO_FIND}")
                raise conflict(
                    "session_ended",
                    "Chat session ended",
                    f"chat session {session_id} is {status} and takes no more messages; start "
                    "a new one for the board task with POST /v1/chat-sessions",
                )
            who.audit(
                connection,
                "chat_session.message_added",
                "chat_session",
                session_id,
                {"role": body.role, "position": added - 1, "characters": len(body.content)},
            )
            return _one(connection, session_id)

    return routes
