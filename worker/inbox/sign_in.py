"""Signing in to the inbox (email and password, or the trusted SSO proxy's header) and out.

Failed attempts are limited per email and per client address (``worker.inbox.rate_limit``):
past the limit the answer is 429 with how long to wait, before any password is checked.
"""

from __future__ import annotations

import math
from typing import Annotated

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from models import User
from worker.core.settings import Settings
from worker.inbox.csrf import check_csrf
from worker.inbox.rate_limit import SignInLimiter
from worker.inbox.sessions import SIGN_IN_PATH, SignedIn, end_session, start_session
from worker.inbox.templating import render
from worker.security.credentials import Forbidden, Unauthenticated
from worker.security.principals import Principal
from worker.security.users import authenticate_password, authenticate_sso_header

__all__ = ["router", "safe_next"]

_users = User.__table__


def safe_next(value: str | None) -> str:
    """Where to go after sign-in: a path of this site only (never another site's URL)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/inbox"
    return value


def router() -> APIRouter:
    routes = APIRouter(include_in_schema=False)

    @routes.get(SIGN_IN_PATH)
    def sign_in_page(request: Request, next: str | None = None) -> Response:
        return _page(request, next_path=safe_next(next))

    @routes.post(SIGN_IN_PATH, dependencies=[Depends(check_csrf)])
    def sign_in(
        request: Request,
        email: Annotated[str, Form()] = "",
        password: Annotated[str, Form()] = "",
        next: Annotated[str, Form()] = "/inbox",
    ) -> Response:
        next_path = safe_next(next)
        email = email.strip()
        if not email or not password:
            return _page(
                request, next_path, email, "Enter your email and your password.", status=400
            )
        limiter: SignInLimiter = request.app.state.sign_in_limiter
        keys = (f"email:{email.lower()}", f"address:{_client(request)}")
        wait = limiter.retry_after(*keys)
        if wait > 0:
            return _too_many(request, next_path, email, wait)
        engine: sa.Engine = request.app.state.engine
        try:
            with engine.begin() as connection:
                principal = authenticate_password(connection, email, password)
        except Unauthenticated:
            limiter.failed(*keys)
            return _page(
                request,
                next_path,
                email,
                "Wrong email or password. Check both and try again.",
                status=401,
            )
        return _signed_in(request, principal, next_path)

    @routes.post(f"{SIGN_IN_PATH}/sso", dependencies=[Depends(check_csrf)])
    def sign_in_sso(request: Request, next: Annotated[str, Form()] = "/inbox") -> Response:
        settings: Settings = request.app.state.settings
        next_path = safe_next(next)
        engine: sa.Engine = request.app.state.engine
        try:
            with engine.begin() as connection:
                principal = authenticate_sso_header(connection, request.headers, settings)
        except (Unauthenticated, Forbidden) as error:
            return _page(request, next_path, "", f"Single sign-on refused: {error}.", status=401)
        return _signed_in(request, principal, next_path)

    @routes.post("/inbox/sign-out", dependencies=[Depends(check_csrf)])
    def sign_out(request: Request) -> Response:
        response = RedirectResponse(SIGN_IN_PATH, status_code=303)
        end_session(request, response)
        return response

    return routes


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _signed_in(request: Request, principal: Principal, next_path: str) -> Response:
    assert principal.user_id is not None
    engine: sa.Engine = request.app.state.engine
    with engine.connect() as connection:
        row = connection.execute(
            sa.select(_users.c.email, _users.c.full_name).where(_users.c.id == principal.user_id)
        ).one()
    response = RedirectResponse(next_path, status_code=303)
    start_session(request, response, SignedIn(principal.user_id, row.email, row.full_name))
    return response


def _too_many(request: Request, next_path: str, email: str, wait: float) -> Response:
    seconds = max(1, math.ceil(wait))
    response = _page(
        request,
        next_path,
        email,
        f"Too many failed sign-in attempts for this email or from this address. Wait {seconds} "
        "seconds, then try again.",
        status=429,
    )
    response.headers["Retry-After"] = str(seconds)
    return response


def _page(
    request: Request,
    next_path: str,
    email: str = "",
    error: str | None = None,
    *,
    status: int = 200,
) -> Response:
    settings: Settings = request.app.state.settings
    return render(
        request,
        "sign_in.html",
        {
            "next_path": next_path,
            "email": email,
            "error": error,
            "sso": settings.sso_user_header is not None,
        },
        status=status,
    )
