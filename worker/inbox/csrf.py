"""CSRF protection for every form the inbox posts: a token bound to the browser's session.

The token is an HMAC of a nonce, keyed with the session secret. A signed-in session carries its
own nonce (``worker.inbox.sessions``); before sign-in, the nonce lives in a cookie of its own
(``agentworker_csrf``, HttpOnly, SameSite=Lax), set by the page that shows the form. A POST
must send the token back in the form field ``csrf_token`` (or the ``X-CSRF-Token`` header, for
a script); another site can make a browser post, but cannot read the token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Request, Response

from worker.inbox.sessions import _secret, _secure, session_nonce

__all__ = ["FIELD", "HEADER", "CsrfRefused", "attach", "check_csrf", "csrf_token"]

FIELD = "csrf_token"
HEADER = "X-CSRF-Token"
PRE_SESSION_COOKIE = "agentworker_csrf"


class CsrfRefused(Exception):
    """A POST without a valid token: answered 403 with a page that says what to do."""


def _token(secret: bytes, nonce: str) -> str:
    return hmac.new(secret, b"csrf:" + nonce.encode("utf-8"), hashlib.sha256).hexdigest()


def _nonce(request: Request, *, create: bool) -> str | None:
    nonce = session_nonce(request) or request.cookies.get(PRE_SESSION_COOKIE)
    if nonce is None and create:
        nonce = getattr(request.state, "csrf_new_nonce", None) or secrets.token_urlsafe(16)
        request.state.csrf_new_nonce = nonce
    return nonce


def csrf_token(request: Request) -> str:
    """The token this request's forms carry (creating the pre-session nonce if need be; then
    ``attach`` must be called on the response)."""
    nonce = _nonce(request, create=True)
    assert nonce is not None
    return _token(_secret(request), nonce)


def attach(request: Request, response: Response) -> None:
    """Set the pre-session nonce cookie a ``csrf_token`` call created, if any."""
    nonce = getattr(request.state, "csrf_new_nonce", None)
    if nonce is not None:
        response.set_cookie(
            PRE_SESSION_COOKIE,
            nonce,
            path="/",
            httponly=True,
            samesite="lax",
            secure=_secure(request),
        )


async def check_csrf(request: Request) -> None:
    """A dependency for every POST route of the inbox: refuses (``CsrfRefused``) a request
    whose token is missing or is not this browser's."""
    presented = request.headers.get(HEADER)
    if presented is None:
        form = await request.form()  # parsed once: the route's Form() fields read the same
        value = form.get(FIELD)
        presented = value if isinstance(value, str) else None
    nonce = _nonce(request, create=False)
    if not presented or nonce is None:
        raise CsrfRefused("the form was sent without its security token")
    expected = _token(_secret(request), nonce)
    if not hmac.compare_digest(presented.encode("utf-8"), expected.encode("utf-8")):
        raise CsrfRefused("the form's security token is not this browser's session's")
