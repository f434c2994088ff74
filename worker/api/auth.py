"""Who calls: ``Authorization: Bearer <key>`` turned into a Principal, and scopes enforced.

Authentication runs in a transaction of its own (it records the key's use) and is the only
database work a request does before its tenant is known (``authenticate_bearer``).
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from fastapi import Request

from worker.api.problems import forbidden, unauthenticated
from worker.security.api_keys import authenticate_bearer
from worker.security.credentials import Forbidden, Unauthenticated
from worker.security.principals import Principal, Scope

HOW = (
    "send the header 'Authorization: Bearer awk_…' with a tenant API key (`agentworker keys issue`)"
)


def bearer_key(request: Request) -> str:
    header = request.headers.get("authorization")
    if not header:
        raise unauthenticated(f"no Authorization header: {HOW}")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise unauthenticated(f"the Authorization header is not a bearer key: {HOW}")
    return key.strip()


def authenticate(engine: sa.Engine, request: Request) -> Principal:
    key = bearer_key(request)
    try:
        with engine.begin() as connection:
            principal = authenticate_bearer(connection, key)
    except Forbidden as error:
        raise forbidden(str(error)) from None
    except Unauthenticated as error:
        raise unauthenticated(str(error)) from None
    if principal.tenant_id is None:
        raise forbidden("this key belongs to no tenant: use a tenant's API key")
    return principal


def require(engine_of: Callable[[Request], sa.Engine], scope: Scope) -> Callable[..., Principal]:
    """A dependency: the caller's principal, which must hold ``scope`` (or ``admin``)."""

    def dependency(request: Request) -> Principal:
        principal = authenticate(engine_of(request), request)
        if not principal.allows(scope):
            held = ", ".join(sorted(principal.scopes)) or "none"
            raise forbidden(
                f"this route needs the '{scope}' scope and {principal.label or 'the key'} has "
                f"{held}: issue a key with --scope {scope}"
            )
        return principal

    dependency.__name__ = f"require_{scope}"
    return dependency
