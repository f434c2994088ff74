"""``/v1/approvals``: the key's tenant's approvals (oldest first), one approval, and a decision
on it for a named approver (the ``decide`` scope).

A decision goes through ``worker.approvals.decisions.resolve`` with the key's principal, in the
key's tenant scope: another tenant's approval is "not found", and who may decide (the named
user's membership and role), the digest and an edit are checked there, in the decision's own
transaction. Its refusals are answered as problems that say what to do.
"""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel, ConfigDict, Field

from models import ApprovalKind, ApprovalStatus
from models.tenant_scope import tenant_scope
from worker.api.auth import require
from worker.api.problems import Problem, conflict, invalid, not_found
from worker.approvals.decisions import resolve
from worker.approvals.errors import (
    AlreadyDecided,
    ApprovalError,
    ApprovalNotFound,
    DuplicateVote,
    InvalidEditedArguments,
    NotAllowed,
    StaleRequest,
)
from worker.approvals.views import ApprovalView, get_approval, list_approvals
from worker.security.principals import Principal, PrincipalKind, Scope
from worker.workflows.advance_here import advancing_here


class DecisionBody(BaseModel):
    """A decision on a pending approval, for a named approver."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    decision: Literal["approve", "reject"]
    user: Annotated[
        str | None,
        Field(
            default=None,
            min_length=1,
            max_length=320,
            description="The approver's email or id: a user of the tenant with the approval's "
            "role. Required with a service key.",
        ),
    ] = None
    comment: Annotated[str | None, Field(default=None, max_length=10_000)] = None
    digest: Annotated[
        str | None,
        Field(
            default=None,
            description="A tool approval's digest as GET /v1/approvals/{id} showed it: the "
            "decision is bound to the call the approver saw. Required for a tool approval.",
        ),
    ] = None
    arguments: Annotated[
        dict[str, Any] | None,
        Field(
            default=None,
            description="Edited arguments for the tool call (approve only), validated against "
            "the tool's schema.",
        ),
    ] = None


def _engine(request: Request) -> sa.Engine:
    return request.app.state.engine


def _body(view: ApprovalView) -> dict[str, Any]:
    return jsonable_encoder({**dataclasses.asdict(view), "arguments": view.arguments})


def _look_again(approval_id: str) -> str:
    return f"GET /v1/approvals/{approval_id}"


def problem_of(error: ApprovalError, approval_id: str) -> Problem:
    """The answer to a refused decision: what happened and what to do."""
    if isinstance(error, ApprovalNotFound):
        return not_found(f"{error}: check the id (an approval of this key's tenant)")
    if isinstance(error, AlreadyDecided):
        return conflict(
            "already_decided",
            "Already decided",
            f"{error}; nothing to decide: {_look_again(approval_id)} shows the outcome",
        )
    if isinstance(error, DuplicateVote):
        return conflict(
            "duplicate_vote",
            "Already voted",
            f"{error}; each approver votes once: another approver must cast the next vote",
        )
    if isinstance(error, StaleRequest):
        return conflict(
            "stale_request",
            "The request changed",
            f"{error} (through the API: {_look_again(approval_id)} for the digest pending now)",
        )
    if isinstance(error, NotAllowed):
        return Problem(
            403,
            "not_allowed",
            "Not allowed to decide",
            f"{error}; name an approver of this tenant with the approval's role in 'user'",
        )
    if isinstance(error, InvalidEditedArguments):
        return invalid(f"{error}; fix the edited arguments to match the tool's schema")
    return invalid(f"{error}")


def router() -> APIRouter:
    routes = APIRouter(prefix="/v1/approvals", tags=["approvals"])
    reader = Depends(require(_engine, Scope.READ))
    decider = Depends(require(_engine, Scope.DECIDE))

    @routes.get("", summary="The tenant's approvals, oldest first")
    def approvals(
        request: Request,
        status: Annotated[
            list[ApprovalStatus],
            Query(description="Only approvals in these states (repeat the parameter)."),
        ] = [ApprovalStatus.PENDING],  # noqa: B006 - FastAPI copies the default per request
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        principal: Principal = reader,
    ) -> dict[str, Any]:
        with tenant_scope(principal.tenant_id, user_id=principal.user_id):
            views = list_approvals(
                request.app.state.engine,
                tenant=str(principal.tenant_id),
                statuses=tuple(status),
                limit=limit,
            )
        return {"approvals": [_body(view) for view in views]}

    @routes.get("/{approval_id}", summary="Read an approval")
    def approval(request: Request, approval_id: str, principal: Principal = reader) -> Any:
        with tenant_scope(principal.tenant_id, user_id=principal.user_id):
            try:
                return _body(get_approval(request.app.state.engine, approval_id))
            except ApprovalError as error:
                raise problem_of(error, approval_id) from None

    @routes.post(
        "/{approval_id}/decision",
        summary="Approve or reject for a named approver",
        responses={
            403: {"description": "The key lacks 'decide', or the named user may not decide"},
            404: {"description": "No approval with this id for this key's tenant"},
            409: {"description": "Already decided, a second vote, or a stale digest"},
            422: {"description": "An invalid body or edit, or a tool approval without digest"},
        },
    )
    def decide(
        request: Request, approval_id: str, body: DecisionBody, principal: Principal = decider
    ) -> Any:
        """Vote through this key as ``user``; the vote that meets the approval's quorum
        decides it and wakes what it gates. Answers the approval as it is afterwards."""
        state = request.app.state
        with tenant_scope(principal.tenant_id, user_id=principal.user_id):
            try:
                if principal.kind == PrincipalKind.SERVICE_KEY and not body.user:
                    raise invalid(
                        "a service key decides for a named approver: send 'user' (the "
                        "approver's email or id)"
                    )
                shown = get_approval(state.engine, approval_id)
                if shown.kind == ApprovalKind.TOOL_CALL and shown.digest and not body.digest:
                    raise invalid(
                        "a tool approval is decided on the call the approver was shown: send "
                        f"its 'digest' from {_look_again(approval_id)} (now {shown.digest})"
                    )
                view = resolve(
                    state.engine,
                    advancing_here(state.engine, state.publisher),
                    shown.id,
                    body.decision,
                    body.user,
                    body.comment,
                    principal=principal,
                    digest=body.digest,
                    arguments=body.arguments,
                )
            except ApprovalError as error:
                raise problem_of(error, approval_id) from None
        return _body(view)

    return routes
