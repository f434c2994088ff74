"""``/v1/commits``: the AI-generated Conventional Commits of the tenant's projects, read-only.

Commits are written only by the pipeline, after an approval, for a card in review
(``worker.orchestrator.write_commit``, which moves the card to done in the same transaction);
there is no ``POST /v1/commits``. Seed 004's ``CommitGenerateRequest`` is served by starting the
pipeline workflow (``POST /v1/executions``).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter

from models import Commit, CommitType
from worker.api.resources._common import (
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

_commits = table_of(Commit)


class CommitResponse(Out):
    id: uuid.UUID
    board_task_id: uuid.UUID
    project_id: uuid.UUID
    type: CommitType
    message: str
    changes: dict[str, Any]
    created_by_ai_model: str | None
    author: str
    timestamp: datetime
    created_at: datetime


def router() -> APIRouter:
    routes = APIRouter(prefix="/v1/commits", tags=["commits"])
    reader = caller(Scope.READ)

    @routes.get("", summary="The tenant's commits, newest first")
    def list_commits(
        paging: PagingParams,
        project_id: uuid.UUID | None = None,
        board_task_id: uuid.UUID | None = None,
        who: Caller = reader,
    ) -> Page[CommitResponse]:
        query = sa.select(_commits).order_by(_commits.c.timestamp.desc(), _commits.c.id)
        if project_id is not None:
            query = query.where(_commits.c.project_id == project_id)
        if board_task_id is not None:
            query = query.where(_commits.c.board_task_id == board_task_id)
        with who.transaction() as connection:
            rows = connection.execute(paging.apply(query)).all()
        return Page[CommitResponse](**paging.page([out(CommitResponse, r) for r in rows]))

    @routes.get("/{commit_id}", summary="A commit")
    def get_commit(commit_id: uuid.UUID, who: Caller = reader) -> CommitResponse:
        with who.transaction() as connection:
            row = require_row(
                connection, _commits, commit_id, "commit", "list them with GET /v1/commits"
            )
        return out(CommitResponse, row)

    return routes
