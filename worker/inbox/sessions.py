"""Who is signed in to the inbox: a signed session cookie, and the dependency that asks for it.

The cookie holds the user's id, email and name, when it was issued and the session's CSRF
nonce, as base64url JSON followed by an HMAC-SHA256 over it (keyed with
``AGENTWORKER_SESSION_SECRET``; unset, a random secret per process, so sessions end when the
API restarts). It is ``HttpOnly`` and ``SameSite=Lax``, ``Secure`` when the public URL is
https, and lasts ``SESSION_SECONDS``. A session whose user has since been deactivated or
removed is not honoured.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import secrets
import time
import uuid
from dataclasses import dataclass
from urllib.parse import quote

import sqlalchemy as sa
from fastapi import Request, Response

from models import User
from worker.core.settings import Settings

__all__ = [
    "COOKIE",
    "SESSION_SECONDS",
    "SignInRequired",
    "SignedIn",
    "end_session",
    "require_signed_in",
    "session_nonce",
    "session_secret",
    "signed_in",
    "start_session",
]

log = logging.getLogger(__name__)

COOKIE = "agentworker_session"
#: A session lasts this long after sign-in, then the user signs in again.
SESSION_SECONDS = 12 * 3600
SIGN_IN_PATH = "/inbox/sign-in"

_users = User.__table__


@dataclass(frozen=True)
class SignedIn:
    user_id: uuid.UUID
    email: str
    full_name: str | None

    @property
    def display_name(self) -> str:
        return self.full_name or self.email


class SignInRequired(Exception):
    """Raised by ``require_signed_in``: answered with a redirect to the sign-in page (or a 401
    for a client that asked for JSON)."""

    def __init__(self, next_path: str) -> None:
        super().__init__("sign in first")
        self.next_path = next_path

    @property
    def location(self) -> str:
        return f"{SIGN_IN_PATH}?next={quote(self.next_path, safe='/')}"


def session_secret(settings: Settings) -> bytes:
    """The key that signs session cookies and CSRF tokens, read once per application."""
    if settings.session_secret:
        return settings.session_secret.encode("utf-8")
    log.warning(
        "AGENTWORKER_SESSION_SECRET is not set: inbox sessions are signed with a random secret "
        "of this process and end when it restarts; set it to keep people signed in"
    )
    return secrets.token_bytes(32)


def _secret(request: Request) -> bytes:
    secret: bytes = request.app.state.session_secret
    return secret


def _sign(secret: bytes, body: bytes) -> str:
    return hmac.new(secret, b"session:" + body, hashlib.sha256).hexdigest()


def encode(secret: bytes, who: SignedIn, *, nonce: str, issued_at: int) -> str:
    payload = {
        "u": str(who.user_id),
        "e": who.email,
        "n": who.full_name,
        "t": issued_at,
        "c": nonce,
    }
    body = base64.urlsafe_b64encode(
        json.dumps(payload, separators=(",", ":")).encode("utf-8")
    ).rstrip(b"=")
    return f"{body.decode('ascii')}.{_sign(secret, body)}"


def decode(secret: bytes, value: str, *, now: float) -> tuple[SignedIn, str] | None:
    """The session a cookie carries and its CSRF nonce, or None when it is forged or old."""
    body, _, signature = value.partition(".")
    if not body or not hmac.compare_digest(
        _sign(secret, body.encode("ascii", "replace")), signature
    ):
        return None
    try:
        padded = body + "=" * (-len(body) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded))
        issued_at = int(payload["t"])
        who = SignedIn(uuid.UUID(payload["u"]), str(payload["e"]), payload.get("n"))
        nonce = str(payload["c"])
    except (binascii.Error, ValueError, KeyError, TypeError):
        return None
    if not 0 <= now - issued_at <= SESSION_SECONDS:
        return None
    return who, nonce


def _session(request: Request) -> tuple[SignedIn, str] | None:
    if hasattr(request.state, "inbox_session"):
        cached: tuple[SignedIn, str] | None = request.state.inbox_session
        return cached
    found = None
    value = request.cookies.get(COOKIE)
    if value:
        found = decode(_secret(request), value, now=time.time())
        if found is not None and not _still_active(request, found[0].user_id):
            found = None
    request.state.inbox_session = found
    return found


def _still_active(request: Request, user_id: uuid.UUID) -> bool:
    engine: sa.Engine = request.app.state.engine
    with engine.connect() as connection:  # users are global: no tenant scope needed
        active = connection.execute(
            sa.select(_users.c.is_active).where(_users.c.id == user_id)
        ).scalar_one_or_none()
    return bool(active)


def signed_in(request: Request) -> SignedIn | None:
    """The signed-in user of this request, or None."""
    found = _session(request)
    return found[0] if found else None


def session_nonce(request: Request) -> str | None:
    """The signed-in session's CSRF nonce (``worker.inbox.csrf``), or None."""
    found = _session(request)
    return found[1] if found else None


def require_signed_in(request: Request) -> SignedIn:
    """A dependency: the signed-in user; a browser without a session is sent (303) to
    ``/inbox/sign-in?next=<this path>``."""
    who = signed_in(request)
    if who is None:
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise SignInRequired(path)
    return who


def _secure(request: Request) -> bool:
    settings: Settings = request.app.state.settings
    return settings.public_url.lower().startswith("https://")


def start_session(request: Request, response: Response, who: SignedIn) -> None:
    """Sign ``who`` in on ``response``, with a fresh CSRF nonce."""
    value = encode(
        _secret(request), who, nonce=secrets.token_urlsafe(16), issued_at=int(time.time())
    )
    response.set_cookie(
        COOKIE,
        value,
        max_age=SESSION_SECONDS,
        path="/",
        httponly=True,
        samesite="lax",
        secure=_secure(request),
    )


def end_session(request: Request, response: Response) -> None:
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax", secure=_secure(request))
