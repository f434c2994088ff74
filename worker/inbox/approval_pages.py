"""The inbox's approval pages: what waits for me (``/inbox``), one approval with its context
and its decision forms (``/inbox/approvals/{id}``), its status as JSON for the page's live
"already decided" notice, and the decision a form posts.

Every read runs in the approval's tenant scope as the signed-in user. An approval of a tenant
the user is not a member of is "not found"; a member whose role is below the approval's
required role sees it without the forms. A decision goes through ``resolve`` with the user's
own principal and the digest the page showed, so a call that changed since is refused.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from models import ApprovalKind, ApprovalStatus, MembershipRole
from models.tenant_scope import tenant_scope
from worker.approvals.context import approval_context
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
from worker.approvals.roles import ranks_below
from worker.approvals.views import ApprovalView, get_approval
from worker.approvals.waiting import role_in, waiting_for
from worker.durable.publishing import Publisher
from worker.durable.tenant_lookup import tenant_of_approval
from worker.inbox.csrf import check_csrf
from worker.inbox.sessions import SignedIn, require_signed_in
from worker.inbox.templating import render, timestamp
from worker.security.principals import Principal
from worker.security.users import find_user_by_email, user_principal
from worker.workflows.advance_here import advancing_here

__all__ = ["router", "status_of"]

Me = Annotated[SignedIn, Depends(require_signed_in)]

#: How a vote reached us, for people: the principal kinds of ``worker.security.principals``.
CHANNELS = {
    "user": "signed in",
    "service_key": "API key",
    "broker": "broker message",
    "cli": "command line",
}


def router() -> APIRouter:
    routes = APIRouter(include_in_schema=False)

    @routes.get("/inbox")
    def inbox(request: Request, me: Me) -> Response:
        engine: sa.Engine = request.app.state.engine
        return render(request, "inbox.html", {"waiting": waiting_for(engine, me.user_id)})

    @routes.get("/inbox/approvals/{approval_id}")
    def approval_page(request: Request, approval_id: str, me: Me) -> Response:
        return _detail(request, me, approval_id)

    @routes.get("/inbox/approvals/{approval_id}/status.json")
    def approval_status(request: Request, approval_id: str, me: Me) -> Response:
        found = _find(request, me, approval_id)
        if found is None:
            return JSONResponse({"detail": "no such approval waits for you"}, status_code=404)
        view, _, _ = found
        return JSONResponse(status_of(view), headers={"Cache-Control": "no-store"})

    @routes.post("/inbox/approvals/{approval_id}/decision", dependencies=[Depends(check_csrf)])
    def decide(
        request: Request,
        approval_id: str,
        me: Me,
        decision: Annotated[str, Form()],
        comment: Annotated[str, Form()] = "",
        digest: Annotated[str, Form()] = "",
        arguments: Annotated[str | None, Form()] = None,
    ) -> Response:
        return _decide(request, me, approval_id, decision, comment, digest, arguments)

    return routes


def status_of(view: ApprovalView) -> dict[str, Any]:
    """What the page polls: the status, and a sentence saying who decided and when."""
    message = None
    if view.status != ApprovalStatus.PENDING:
        who = f" by {view.decided_by}" if view.decided_by else ""
        message = f"already {view.status.value}{who} at {timestamp(view.decided_at)}"
    return {
        "id": str(view.id),
        "status": view.status.value,
        "decided_by": view.decided_by,
        "decided_at": view.decided_at.isoformat() if view.decided_at else None,
        "message": message,
        "votes": len(view.votes),
        "digest": view.digest,
    }


def _find(
    request: Request, me: SignedIn, approval_id: str
) -> tuple[ApprovalView, uuid.UUID, MembershipRole] | None:
    """The approval, its tenant and my role there; None when it does not exist for me."""
    try:
        approval_uuid = uuid.UUID(approval_id)
    except ValueError:
        return None
    engine: sa.Engine = request.app.state.engine
    with engine.connect() as connection:  # the one look-up made before the tenant is known
        tenant_id = tenant_of_approval(connection, approval_uuid)
    if tenant_id is None:
        return None
    role = role_in(engine, tenant_id, me.user_id)
    if role is None:
        return None
    with tenant_scope(tenant_id, user_id=me.user_id):
        try:
            view = get_approval(engine, approval_uuid)
        except ApprovalNotFound:
            return None
    return view, tenant_id, role


def _detail(
    request: Request,
    me: SignedIn,
    approval_id: str,
    *,
    error: str | None = None,
    edited_text: str | None = None,
    comment: str = "",
    status: int = 200,
) -> Response:
    found = _find(request, me, approval_id)
    if found is None:
        return _not_found(request)
    view, tenant_id, role = found
    engine: sa.Engine = request.app.state.engine
    with tenant_scope(tenant_id, user_id=me.user_id), engine.connect() as connection:
        context = approval_context(connection, view)
    may_decide = not ranks_below(role, view.required_role)
    i_voted = any(vote.approver.lower() == me.email.lower() for vote in view.votes)
    arguments = view.arguments
    return render(
        request,
        "approval.html",
        {
            "approval": view,
            "context": context,
            "role": role,
            "may_decide": may_decide,
            "i_voted": i_voted,
            "status": status_of(view),
            "is_tool": view.kind == ApprovalKind.TOOL_CALL,
            "arguments_text": json.dumps(arguments, indent=2, ensure_ascii=False)
            if arguments is not None
            else None,
            "edited_text": edited_text,
            "schema_text": json.dumps(context.arguments_schema, indent=2)
            if context.arguments_schema
            else None,
            "show_text": _show(view.payload.get("show")),
            "error": error,
            "comment": comment,
            "channels": CHANNELS,
            "run_links": _run_links(view),
        },
        status=status,
    )


def _decide(
    request: Request,
    me: SignedIn,
    approval_id: str,
    decision: str,
    comment: str,
    digest: str,
    arguments_text: str | None,
) -> Response:
    found = _find(request, me, approval_id)
    if found is None:
        return _not_found(request)
    view, tenant_id, _ = found
    if decision not in ("approve", "reject"):
        return _detail(request, me, approval_id, error="Choose approve or reject.", status=400)
    arguments = None
    if arguments_text is not None:
        try:
            arguments = json.loads(arguments_text)
        except ValueError as error:
            return _detail(
                request,
                me,
                approval_id,
                error=f"The edited arguments are not valid JSON: {error}. Fix them and approve "
                "again.",
                edited_text=arguments_text,
                comment=comment,
                status=422,
            )
        if not isinstance(arguments, dict):
            return _detail(
                request,
                me,
                approval_id,
                error="The edited arguments must be a JSON object ({…}) of the tool's arguments.",
                edited_text=arguments_text,
                comment=comment,
                status=422,
            )
        if arguments == view.arguments:
            arguments = None  # unchanged: an approval of the call as asked
    engine: sa.Engine = request.app.state.engine
    publisher: Publisher = request.app.state.publisher
    try:
        with tenant_scope(tenant_id, user_id=me.user_id):
            principal = _principal(engine, me)
            resolve(
                engine,
                advancing_here(engine, publisher),
                view.id,
                "approve" if decision == "approve" else "reject",
                comment=comment.strip() or None,
                principal=principal,
                digest=digest or None,
                arguments=arguments,
            )
    except InvalidEditedArguments as error:
        return _detail(
            request,
            me,
            approval_id,
            error=f"{_sentence(str(error))} Fix the arguments and approve again.",
            edited_text=arguments_text,
            comment=comment,
            status=422,
        )
    except StaleRequest:
        return _detail(
            request,
            me,
            approval_id,
            error="The call waiting for approval changed since this page was shown (another "
            "approver edited it). Read what it asks now, then decide again.",
            comment=comment,
            status=409,
        )
    except (AlreadyDecided, DuplicateVote) as error:
        return _detail(request, me, approval_id, error=_sentence(str(error)), status=409)
    except NotAllowed as error:
        return _detail(
            request, me, approval_id, error=f"Not taken: {_sentence(str(error))}", status=403
        )
    except ApprovalError as error:
        return _detail(request, me, approval_id, error=_sentence(str(error)), status=400)
    return RedirectResponse(f"/inbox/approvals/{view.id}", status_code=303)


def _principal(engine: sa.Engine, me: SignedIn) -> Principal:
    """The signed-in user as a principal, labelled as the inbox. A session is a person's own
    sign-in, not a token: it carries no tenant and no scopes, so what decides is the person's
    membership and role in the approval's tenant, checked by ``resolve``."""
    with engine.connect() as connection:
        user = find_user_by_email(connection, me.email)
        if user is None or user.user_id != me.user_id:
            raise NotAllowed("your user is no longer known here; sign in again")
        principal = user_principal(connection, user, None)
    return dataclasses.replace(principal, label=f"inbox: {me.email}")


def _sentence(text: str) -> str:
    text = text.strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def _show(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, indent=2, ensure_ascii=False, default=str)


def _run_links(view: ApprovalView) -> list[tuple[str, str]]:
    links = []
    if view.workflow_execution_id:
        links.append(
            (f"/runs/executions/{view.workflow_execution_id}", "the workflow execution's run page")
        )
    if view.task_id:
        links.append((f"/runs/tasks/{view.task_id}", "the task's run page"))
    return links


def _not_found(request: Request) -> Response:
    return render(request, "not_found.html", status=404)
