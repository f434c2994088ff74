"""``/v1/projects``: seed 004's projects, the root of everything below them (interviews,
prompts, board tasks, commits). Deleting a project deletes all of that (ON DELETE CASCADE)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Response
from pydantic import Field

from models import BoardTask, Commit, Interview, Project, Prompt
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
    table_of,
)
from worker.security.principals import Scope

_projects = table_of(Project)
HOW_TO_FIND = "list them with GET /v1/projects"

Name = Annotated[str, Field(min_length=1, max_length=255)]


class ProjectCreate(Body):
    name: Name
    description: str | None = None
    git_repository_info: dict[str, Any] = Field(default_factory=dict)


class ProjectUpdate(Body):
    name: Name | None = None
    description: str | None = None
    git_repository_info: dict[str, Any] | None = None


class ProjectResponse(Out):
    id: uuid.UUID
    name: str
    description: str | None
    git_repository_info: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class ProjectWithRelations(ProjectResponse):
    interview_count: int
    prompt_count: int
    task_count: int = Field(description="Board tasks (seed 004's Kanban tasks).")
    commit_count: int


def _count(table: sa.Table) -> sa.ScalarSelect[int]:
    return (
        sa.select(sa.func.count())
        .select_from(table)
        .where(table.c.project_id == _projects.c.id)
        .scalar_subquery()
    )


_WITH_COUNTS = sa.select(
    _projects,
    _count(table_of(Interview)).label("interview_count"),
    _count(table_of(Prompt)).label("prompt_count"),
    _count(table_of(BoardTask)).label("task_count"),
    _count(table_of(Commit)).label("commit_count"),
)


def _one(connection: sa.Connection, project_id: uuid.UUID) -> ProjectWithRelations:
    row = connection.execute(_WITH_COUNTS.where(_projects.c.id == project_id)).one_or_none()
    if row is None:
        raise not_found(f"no project {project_id} in this tenant; {HOW_TO_FIND}")
    return out(ProjectWithRelations, row)


def router() -> APIRouter:
    routes = APIRouter(prefix="/v1/projects", tags=["projects"])
    reader, submitter = caller(Scope.READ), caller(Scope.SUBMIT)

    @routes.post("", status_code=201, summary="Create a project")
    def create_project(
        body: ProjectCreate, response: Response, who: Caller = submitter
    ) -> ProjectWithRelations:
        with who.transaction() as connection:
            project_id = connection.execute(
                sa.insert(_projects)
                .values(tenant_id=who.tenant_id, **body.model_dump())
                .returning(_projects.c.id)
            ).scalar_one()
            who.audit(connection, "project.created", "project", project_id, body.model_dump())
            created = _one(connection, project_id)
        response.headers["Location"] = f"/v1/projects/{project_id}"
        return created

    @routes.get("", summary="The tenant's projects, newest first")
    def list_projects(paging: PagingParams, who: Caller = reader) -> Page[ProjectResponse]:
        with who.transaction() as connection:
            rows = connection.execute(
                paging.apply(
                    sa.select(_projects).order_by(_projects.c.created_at.desc(), _projects.c.id)
                )
            ).all()
        return Page[ProjectResponse](**paging.page([out(ProjectResponse, r) for r in rows]))

    @routes.get("/{project_id}", summary="A project with its counts")
    def get_project(project_id: uuid.UUID, who: Caller = reader) -> ProjectWithRelations:
        with who.transaction() as connection:
            return _one(connection, project_id)

    @routes.patch("/{project_id}", summary="Change a project's name, description or git info")
    def update_project(
        project_id: uuid.UUID, body: ProjectUpdate, who: Caller = submitter
    ) -> ProjectWithRelations:
        values = changed_fields(body, "project", "name, description, git_repository_info")
        for field in ("name", "git_repository_info"):
            if field in values and values[field] is None:
                raise invalid(f"a project's {field} cannot be null: send a value or leave it out")
        with who.transaction() as connection:
            updated = connection.execute(
                sa.update(_projects)
                .where(_projects.c.id == project_id)
                .values(values)
                .returning(_projects.c.id)
            ).scalar_one_or_none()
            if updated is None:
                raise not_found(f"no project {project_id} in this tenant; {HOW_TO_FIND}")
            who.audit(connection, "project.updated", "project", project_id, values)
            return _one(connection, project_id)

    @routes.delete("/{project_id}", status_code=204, summary="Delete a project and its rows")
    def delete_project(project_id: uuid.UUID, who: Caller = submitter) -> Response:
        with who.transaction() as connection:
            name = connection.execute(
                sa.delete(_projects).where(_projects.c.id == project_id).returning(_projects.c.name)
            ).scalar_one_or_none()
            if name is None:
                raise not_found(f"no project {project_id} in this tenant; {HOW_TO_FIND}")
            who.audit(connection, "project.deleted", "project", project_id, {"name": name})
        return Response(status_code=204)

    return routes
