"""``/v1/prompts``: seed 004's composable, versioned prompts.

A prompt is never edited in place: ``POST /v1/prompts`` with a ``type`` the project already has
saves the next version (``save_prompt``), whose parent is the latest one, so a board task that
points at an earlier version keeps the text it was made with. ``PATCH`` therefore answers 405
and says so. Seed 004's ``PromptGenerateRequest`` (prompts written by a model from an interview)
is served by starting the pipeline workflow (``POST /v1/executions``), not here.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from models import Interview, Prompt
from worker.api.problems import Problem
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
from worker.orchestrator import compose, history, save_prompt
from worker.security.principals import Scope

_prompts = table_of(Prompt)
_interviews = table_of(Interview)
NEW_VERSION = (
    "a prompt is not changed in place: POST /v1/prompts with the same project_id and type "
    "saves its next version (the current one becomes its parent)"
)


class PromptCreate(Body):
    project_id: uuid.UUID
    content: Annotated[str, Field(min_length=1)]
    type: Annotated[
        str,
        Field(min_length=1, max_length=50, description="The prompt's kind, e.g. task"),
    ]
    is_reusable: bool = Field(default=False, description="Whether other prompts may compose it.")
    components: list[uuid.UUID] = Field(
        default_factory=list, description="Reusable prompts of the project to compose, in order."
    )
    created_from_interview_id: uuid.UUID | None = None


class PromptResponse(Out):
    id: uuid.UUID
    project_id: uuid.UUID
    created_from_interview_id: uuid.UUID | None
    parent_id: uuid.UUID | None
    content: str
    type: str
    is_reusable: bool
    components: list[dict[str, Any]]
    version: int
    created_at: datetime
    updated_at: datetime


class PromptVersion(BaseModel):
    id: uuid.UUID
    version: int


class PromptDetailResponse(PromptResponse):
    composed: str = Field(description="The full text: the components' text, then this one's.")
    versions: list[PromptVersion] = Field(
        description="This version and the ones before it, newest first."
    )


def _detail(connection: sa.Connection, prompt_id: uuid.UUID) -> PromptDetailResponse:
    row = require_row(connection, _prompts, prompt_id, "prompt", "list them with GET /v1/prompts")
    versions = [PromptVersion(id=p.id, version=p.version) for p in history(connection, prompt_id)]
    return out(
        PromptDetailResponse, row, composed=compose(connection, prompt_id), versions=versions
    )


def router() -> APIRouter:
    routes = APIRouter(prefix="/v1/prompts", tags=["prompts"])
    reader, submitter = caller(Scope.READ), caller(Scope.SUBMIT)

    @routes.post("", status_code=201, summary="Save a prompt (a new version of its type)")
    def create_prompt(
        body: PromptCreate, response: Response, who: Caller = submitter
    ) -> PromptDetailResponse:
        with who.transaction() as connection:
            if body.created_from_interview_id is not None:
                require_row(
                    connection,
                    _interviews,
                    body.created_from_interview_id,
                    "interview",
                    "name an interview of this project (GET /v1/interviews?project_id=…)",
                    project_id=body.project_id,
                )
            saved = save_prompt(
                connection,
                tenant_id=who.tenant_id,
                project_id=body.project_id,
                content=body.content,
                prompt_type=body.type,
                is_reusable=body.is_reusable,
                components=body.components,
                interview_id=body.created_from_interview_id,
            )
            who.audit(
                connection,
                "prompt.created",
                "prompt",
                saved.id,
                {"project_id": body.project_id, "type": saved.type, "version": saved.version},
            )
            detail = _detail(connection, saved.id)
        response.headers["Location"] = f"/v1/prompts/{saved.id}"
        return detail

    @routes.get("", summary="The tenant's prompts, by project, type and newest version first")
    def list_prompts(
        paging: PagingParams,
        project_id: uuid.UUID | None = None,
        type: str | None = None,
        who: Caller = reader,
    ) -> Page[PromptResponse]:
        query = sa.select(_prompts).order_by(
            _prompts.c.project_id, _prompts.c.type, _prompts.c.version.desc()
        )
        if project_id is not None:
            query = query.where(_prompts.c.project_id == project_id)
        if type is not None:
            query = query.where(_prompts.c.type == type)
        with who.transaction() as connection:
            rows = connection.execute(paging.apply(query)).all()
        return Page[PromptResponse](**paging.page([out(PromptResponse, r) for r in rows]))

    @routes.get("/{prompt_id}", summary="A prompt, its composed text and its versions")
    def get_prompt(prompt_id: uuid.UUID, who: Caller = reader) -> PromptDetailResponse:
        with who.transaction() as connection:
            return _detail(connection, prompt_id)

    @routes.patch(
        "/{prompt_id}",
        status_code=405,
        summary="Not allowed: a change is a new version (POST /v1/prompts)",
        responses={405: {"description": NEW_VERSION}},
    )
    def update_prompt(prompt_id: uuid.UUID) -> None:
        raise Problem(405, "new_version", "Prompts are versioned", NEW_VERSION, headers=_ALLOW)

    return routes


_ALLOW = {"Allow": "GET"}
