"""Per-user tokens for scripts: a user acting in one tenant without a password.

A token is ``awu_`` and 48 random characters (``credentials.py``), shown once and stored only
as a SHA-256 hash. It acts as its user in its tenant, with the scopes of the user's current
role there (``users.ROLE_SCOPES``): demote the user and their tokens lose the rights too.

Look-up made before the tenant is known: ``find_user_token_by_prefix`` (ids only).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from models import User, UserToken
from models.tenant_scope import scope_transaction
from worker.core.errors import AgentWorkerError
from worker.security.credentials import (
    USER_TOKEN_KIND,
    Unauthenticated,
    credential_hash,
    new_credential,
    prefix_of,
    revoke,
    same_hash,
)
from worker.security.principals import Principal
from worker.security.users import UnknownUser, UserRecord, find_user_by_email, user_principal

__all__ = [
    "IssuedToken",
    "TokenOwner",
    "TokenView",
    "UnknownToken",
    "authenticate_user_token",
    "find_user_token_by_prefix",
    "issue_user_token",
    "list_user_tokens",
    "revoke_user_token",
]

_tokens = UserToken.__table__
_users = User.__table__


class UnknownToken(AgentWorkerError):
    code = "unknown_token"


@dataclass(frozen=True)
class IssuedToken:
    token_id: uuid.UUID
    tenant_id: uuid.UUID
    user_id: uuid.UUID
    prefix: str
    #: The whole token: shown once, never stored in clear.
    token: str
    expires_at: datetime | None


@dataclass(frozen=True)
class TokenView:
    token_id: uuid.UUID
    tenant_id: uuid.UUID
    user_id: uuid.UUID
    name: str | None
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True)
class TokenOwner:
    token_id: uuid.UUID
    tenant_id: uuid.UUID
    user_id: uuid.UUID


def issue_user_token(
    connection: sa.Connection,
    *,
    email: str,
    tenant_id: uuid.UUID,
    name: str | None = None,
    expires_at: datetime | None = None,
) -> IssuedToken:
    user = _user(connection, email)
    for _ in range(5):
        token, prefix = new_credential(USER_TOKEN_KIND)
        try:
            with connection.begin_nested():
                token_id = connection.execute(
                    sa.insert(_tokens)
                    .values(
                        tenant_id=tenant_id,
                        user_id=user.user_id,
                        name=name,
                        prefix=prefix,
                        token_hash=credential_hash(token),
                        expires_at=expires_at,
                    )
                    .returning(_tokens.c.id)
                ).scalar_one()
        except IntegrityError:
            continue
        return IssuedToken(token_id, tenant_id, user.user_id, prefix, token, expires_at)
    raise AgentWorkerError("could not draw a unique token prefix in 5 attempts; try again")


def list_user_tokens(
    connection: sa.Connection, *, email: str, tenant_id: uuid.UUID
) -> list[TokenView]:
    user = _user(connection, email)
    rows = connection.execute(
        sa.select(_tokens)
        .where(_tokens.c.user_id == user.user_id, _tokens.c.tenant_id == tenant_id)
        .order_by(_tokens.c.created_at, _tokens.c.prefix)
    ).all()
    return [_view(row) for row in rows]


def revoke_user_token(connection: sa.Connection, prefix: str) -> TokenView:
    owner = find_user_token_by_prefix(connection, prefix)
    if owner is None:
        raise UnknownToken(
            f"no user token with prefix {prefix!r}; see `agentworker users token list`"
        )
    return _view(revoke(connection, _tokens, owner.token_id, owner.tenant_id))


def find_user_token_by_prefix(connection: sa.Connection, prefix: str) -> TokenOwner | None:
    """PRE-TENANT LOOK-UP: the token a prefix names, its tenant and its user (ids only)."""
    # Across tenants: a SECURITY DEFINER function of migration 0007 (row-level security).
    row = connection.execute(
        sa.text("SELECT token_id, tenant_id, user_id FROM agentworker_user_token_by_prefix(:p)"),
        {"p": prefix},
    ).one_or_none()
    return TokenOwner(row.token_id, row.tenant_id, row.user_id) if row is not None else None


def authenticate_user_token(connection: sa.Connection, raw_token: str) -> Principal:
    """The user (in the token's tenant, with their role's scopes) a token stands for."""
    raw_token = raw_token.strip()
    prefix = prefix_of(raw_token, USER_TOKEN_KIND)
    owner = find_user_token_by_prefix(connection, prefix) if prefix else None
    if prefix is None or owner is None:
        raise Unauthenticated(
            "unknown user token; check it, or issue one with `agentworker users token issue`"
        )
    scope_transaction(connection, owner.tenant_id)
    row = connection.execute(sa.select(_tokens).where(_tokens.c.id == owner.token_id)).one()
    if not same_hash(raw_token, row.token_hash):
        raise Unauthenticated(f"wrong user token for prefix {prefix}; check the token")
    if row.revoked_at is not None:
        raise Unauthenticated(f"user token {prefix} was revoked; issue a new one")
    if row.expires_at is not None and row.expires_at <= datetime.now(UTC):
        raise Unauthenticated(f"user token {prefix} expired; issue a new one")
    user = connection.execute(
        sa.select(_users.c.id, _users.c.email, _users.c.is_active, _users.c.password_hash).where(
            _users.c.id == owner.user_id
        )
    ).one()
    if not user.is_active:
        raise Unauthenticated(f"user token {prefix}: its user {user.email} is deactivated")
    connection.execute(
        sa.update(_tokens).where(_tokens.c.id == owner.token_id).values(last_used_at=sa.func.now())
    )
    record = UserRecord(user.id, user.email, user.is_active, user.password_hash)
    return user_principal(connection, record, owner.tenant_id)


def _user(connection: sa.Connection, email: str) -> UserRecord:
    user = find_user_by_email(connection, email)
    if user is None:
        raise UnknownUser(f"no user {email!r}; add one with `agentworker users add`")
    return user


def _view(row: sa.Row) -> TokenView:  # type: ignore[type-arg]
    return TokenView(
        token_id=row.id,
        tenant_id=row.tenant_id,
        user_id=row.user_id,
        name=row.name,
        prefix=row.prefix,
        created_at=row.created_at,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )
