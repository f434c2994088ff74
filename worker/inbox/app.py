"""``install(app)``: mount the inbox on the API application — its pages, its static files, the
session secret, the sign-in limiter, and the answers to "sign in first" and "CSRF refused"."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from worker.inbox import approval_pages, sign_in
from worker.inbox.csrf import CsrfRefused
from worker.inbox.problem_json import problem
from worker.inbox.rate_limit import SignInLimiter
from worker.inbox.sessions import SignInRequired, session_secret
from worker.inbox.templating import render

__all__ = ["install"]

STATIC_DIR = Path(__file__).with_name("static")


def install(app: FastAPI, *, sign_in_limiter: SignInLimiter | None = None) -> None:
    app.state.session_secret = session_secret(app.state.settings)
    app.state.sign_in_limiter = sign_in_limiter or SignInLimiter()
    app.mount("/inbox/static", StaticFiles(directory=STATIC_DIR), name="inbox-static")
    app.include_router(sign_in.router())
    app.include_router(approval_pages.router())
    app.add_exception_handler(SignInRequired, _on_sign_in_required)
    app.add_exception_handler(CsrfRefused, _on_csrf_refused)


def wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/html" not in accept


async def _on_sign_in_required(request: Request, error: Exception) -> Response:
    assert isinstance(error, SignInRequired)
    if wants_json(request):
        return problem(
            401,
            "unauthenticated",
            "Sign in required",
            f"your inbox session has ended: sign in again at {error.location}",
        )
    return RedirectResponse(error.location, status_code=303)


async def _on_csrf_refused(request: Request, error: Exception) -> Response:
    return render(
        request,
        "refused.html",
        {"reason": str(error), "back": _same_site(request, request.headers.get("referer"))},
        status=403,
    )


def _same_site(request: Request, url: str | None) -> str | None:
    return url if url and url.startswith(str(request.base_url)) else None
