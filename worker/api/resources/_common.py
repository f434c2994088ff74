"""What every resource route shares: the caller (its principal and a transaction in its tenant
scope), the audit row each write adds in that transaction, pagination, and the mapping of the
orchestrator's refusals to RFC 9457 problems.

The API logs in as the runtime role, so row-level security hides another tenant's rows: a row
that is not found in the caller's scope is answered 404, whether it exists elsewhere or not.
Foreign keys do not see row-level security, so a route that stores a reference to another row
first reads that row in the caller's scope (``require_row``).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

import sqlalchemy as sa
from fastapi import Depends, Query, Request
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import IntegrityError

from models import AuditLog
from models.tenant_scope import tenant_scope
from worker.api.auth import require
from worker.api.problems import Problem, conflict, invalid, not_found
from worker.orchestrator import (
    InvalidAnswer,
    InvalidCommit,
    InvalidPrompt,
    MoveRefused,
    NotAwaitingAnswer,
    NotFound,
    OrchestratorError,
)
from worker.security.principals import Principal, Scope

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)


class Body(BaseModel):
    """A request body: unknown fields are refused, so a typo is a 422, not silently dropped."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Out(BaseModel):
    """A response body built from a row's columns."""

    model_config = ConfigDict(from_attributes=True)


class Page(BaseModel, Generic[T]):
    """One page of a list: ``next_offset`` is the ``offset`` of the next page, null at the end."""

    items: list[T]
    limit: int
    offset: int
    next_offset: int | None


@dataclass(frozen=True)
class Paging:
    limit: int
    offset: int

    def apply(self, query: sa.Select[Any]) -> sa.Select[Any]:
        # One row more than asked, to know whether another page follows.
        return query.limit(self.limit + 1).offset(self.offset)

    def page(self, items: list[Any]) -> dict[str, Any]:
        more = len(items) > self.limit
        return {
            "items": items[: self.limit],
            "limit": self.limit,
            "offset": self.offset,
            "next_offset": self.offset + self.limit if more else None,
        }


def paging(
    limit: Annotated[int, Query(ge=1, le=500, description="Rows per page.")] = 100,
    offset: Annotated[int, Query(ge=0, description="Rows to skip (a page's next_offset).")] = 0,
) -> Paging:
    return Paging(limit, offset)


PagingParams = Annotated[Paging, Depends(paging)]


class DetailedProblem(Problem):
    """A problem with extension members (RFC 9457 §3.2), e.g. the ``path`` an answer failed."""

    def __init__(self, base: Problem, **extensions: Any) -> None:
        super().__init__(base.status, base.code, base.title, base.detail, headers=base.headers)
        self.extensions = extensions

    def body(self) -> dict[str, Any]:
        return {**super().body(), **self.extensions}


def problem_of(error: OrchestratorError) -> Problem:
    """The orchestrator's refusal as a problem; its message already says what to do."""
    if isinstance(error, NotFound):
        return not_found(str(error))
    if isinstance(error, MoveRefused):
        return conflict("invalid_move", "Move not allowed", str(error))
    if isinstance(error, NotAwaitingAnswer):
        return conflict("not_awaiting_answer", "No question waits", str(error))
    if isinstance(error, InvalidAnswer):
        return DetailedProblem(
            Problem(422, "invalid_answer", "Answer does not fit", str(error)), path=error.path
        )
    if isinstance(error, (InvalidPrompt, InvalidCommit)):
        return Problem(422, error.code, "Invalid request", str(error))
    return invalid(str(error))


def read_only(detail: str) -> Problem:
    return Problem(403, "read_only", "Read-only row", detail)


@dataclass(frozen=True)
class Caller:
    """The authenticated key and the app's engine: what a route's database work needs."""

    principal: Principal
    engine: sa.Engine

    @property
    def tenant_id(self) -> uuid.UUID:
        assert self.principal.tenant_id is not None  # auth refuses keys of no tenant
        return self.principal.tenant_id

    @property
    def actor(self) -> str:
        return self.principal.label or self.principal.kind.value

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sa.Connection]:
        """One transaction in the key's tenant scope; the orchestrator's refusals and
        constraint violations leave it rolled back and come out as problems."""
        try:
            with (
                tenant_scope(self.principal.tenant_id, user_id=self.principal.user_id),
                self.engine.begin() as connection,
            ):
                yield connection
        except OrchestratorError as error:
            raise problem_of(error) from None
        except IntegrityError as error:
            raise _integrity_problem(error) from None

    def audit(
        self,
        connection: sa.Connection,
        action: str,
        resource_type: str,
        resource_id: uuid.UUID | str,
        changes: Mapping[str, Any] | None = None,
    ) -> None:
        """The audit row of a write, in the write's transaction."""
        connection.execute(
            sa.insert(table_of(AuditLog)).values(
                tenant_id=self.tenant_id,
                user_id=self.principal.user_id,
                actor=self.actor,
                action=action,
                resource_type=resource_type,
                resource_id=str(resource_id),
                changes=jsonable(dict(changes or {})),
                metadata={"principal": self.principal.audit_fields(), "via": "api"},
            )
        )


def _integrity_problem(error: IntegrityError) -> Problem:
    diagnostic = getattr(error.orig, "diag", None)
    constraint = getattr(diagnostic, "constraint_name", None) or "a constraint"
    sqlstate = getattr(error.orig, "sqlstate", None)
    if sqlstate == "23505":
        return conflict(
            "already_exists",
            "Already exists",
            f"a row with these values exists already ({constraint}): change the name or key, "
            "or update the existing row",
        )
    return invalid(f"the request breaks {constraint}: check the ids and values you sent")


def caller(scope: Scope) -> Any:
    """A dependency: the ``Caller`` whose key holds ``scope`` (or ``admin``)."""
    authenticated = Depends(require(lambda request: request.app.state.engine, scope))

    def dependency(request: Request, principal: Principal = authenticated) -> Caller:
        return Caller(principal, request.app.state.engine)

    dependency.__name__ = f"caller_with_{scope}"
    return Depends(dependency)


def require_row(
    connection: sa.Connection,
    table: sa.Table,
    row_id: uuid.UUID,
    what: str,
    how_to_find: str,
    **equal: Any,
) -> sa.Row[Any]:
    """The row ``row_id`` of ``table`` as the caller's tenant sees it (and matching
    ``equal``), else 404."""
    query = sa.select(table).where(table.c.id == row_id)
    for column, value in equal.items():
        query = query.where(table.c[column] == value)
    row = connection.execute(query).one_or_none()
    if row is None:
        raise not_found(f"no {what} {row_id} in this tenant; {how_to_find}")
    return row


def changed_fields(body: BaseModel, what: str, fields: str) -> dict[str, Any]:
    """The fields a PATCH body sets; an empty PATCH is refused."""
    values = body.model_dump(exclude_unset=True)
    if not values:
        raise invalid(f"a {what} update sets at least one of {fields}: send them in the body")
    return values


def table_of(model: type[Any]) -> sa.Table:
    """A model's table, typed as one (``__table__`` is typed as any ``FromClause``)."""
    table = model.__table__
    assert isinstance(table, sa.Table)
    return table


def jsonable(value: Any) -> Any:
    return jsonable_encoder(value)


def out(model: type[M], row: sa.Row[Any], **extra: Any) -> M:
    """A response model from a row's columns (``column`` names as the seed spells them)."""
    return model.model_validate({**row._mapping, **extra})


__all__ = [
    "Body",
    "Caller",
    "DetailedProblem",
    "Out",
    "Page",
    "Paging",
    "PagingParams",
    "caller",
    "changed_fields",
    "jsonable",
    "out",
    "paging",
    "problem_of",
    "read_only",
    "require_row",
    "table_of",
]
