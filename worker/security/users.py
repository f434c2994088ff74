"""Users: add them to a tenant, set their password, and sign them in (password or SSO header).

Users are global (one identity, a membership per tenant). A signed-in user is a
``Principal(kind=USER)``; with a tenant named, it carries that tenant and the scopes of the
user's role there (``ROLE_SCOPES``), else no tenant and no scopes.

The trusted SSO header is off unless configured: ``AGENTWORKER_SSO_USER_HEADER`` names the
header the proxy in front of the API sets to the signed-in user's email, and the proxy must
also send ``AGENTWORKER_SSO_SECRET_HEADER`` with the value ``AGENTWORKER_SSO_SHARED_SECRET``,
so a client that sets the user header itself is refused.

Look-up made before the tenant is known: ``find_user_by_email``.
"""

from __future__ import annotations

import hmac
import uuid
from collections.abc import Mapping
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from models import MembershipRole, TenantMembership, User
from worker.core.errors import AgentWorkerError
from worker.core.settings import Settings
from worker.core.tenants import resolve_tenant
from worker.security import passwords
from worker.security.credentials import Forbidden, Unauthenticated
from worker.security.principals import Principal, PrincipalKind, Scope

__all__ = [
    "ROLE_SCOPES",
    "Membership",
    "UnknownUser",
    "UserRecord",
    "add_user",
    "authenticate_password",
    "authenticate_sso_header",
    "find_user_by_email",
    "set_password",
    "user_principal",
]

_users = User.__table__
_memberships = TenantMembership.__table__

#: What a role may do in its tenant (the approval's own required role still applies).
ROLE_SCOPES: dict[MembershipRole, frozenset[Scope]] = {
    MembershipRole.MEMBER: frozenset({Scope.SUBMIT, Scope.READ}),
    MembershipRole.APPROVER: frozenset({Scope.SUBMIT, Scope.READ, Scope.DECIDE}),
    MembershipRole.ADMIN: frozenset({Scope.ADMIN}),
    MembershipRole.OWNER: frozenset({Scope.ADMIN}),
}


class UnknownUser(AgentWorkerError):
    code = "unknown_user"


@dataclass(frozen=True)
class UserRecord:
    user_id: uuid.UUID
    email: str
    is_active: bool
    password_hash: str | None


@dataclass(frozen=True)
class Membership:
    user_id: uuid.UUID
    tenant_id: uuid.UUID
    email: str
    role: MembershipRole
    created_user: bool


def find_user_by_email(connection: sa.Connection, email: str) -> UserRecord | None:
    """PRE-TENANT LOOK-UP: the user with this email (case-insensitive)."""
    row = connection.execute(
        sa.select(_users.c.id, _users.c.email, _users.c.is_active, _users.c.password_hash).where(
            sa.func.lower(_users.c.email) == email.strip().lower()
        )
    ).one_or_none()
    return UserRecord(row.id, row.email, row.is_active, row.password_hash) if row else None


def add_user(
    connection: sa.Connection,
    *,
    email: str,
    tenant_id: uuid.UUID,
    role: MembershipRole,
    full_name: str | None = None,
) -> Membership:
    """The user (created if new) with ``role`` in ``tenant_id`` (replacing a former role)."""
    email = email.strip()
    if "@" not in email or len(email) > 320:
        raise AgentWorkerError(f"{email!r} is not an email address; give the user's email")
    existing = find_user_by_email(connection, email)
    if existing is None:
        user_id = connection.execute(
            sa.insert(_users).values(email=email, full_name=full_name).returning(_users.c.id)
        ).scalar_one()
    else:
        user_id, email = existing.user_id, existing.email
    statement = pg_insert(_memberships).values(tenant_id=tenant_id, user_id=user_id, role=role)
    connection.execute(
        statement.on_conflict_do_update(
            index_elements=["tenant_id", "user_id"], set_={"role": statement.excluded.role}
        )
    )
    return Membership(user_id, tenant_id, email, role, created_user=existing is None)


def set_password(connection: sa.Connection, email: str, password: str) -> uuid.UUID:
    if len(password) < passwords.MIN_PASSWORD_LENGTH:
        raise AgentWorkerError(
            f"the password is {len(password)} characters; use at least "
            f"{passwords.MIN_PASSWORD_LENGTH} (a passphrase of a few words is easy to type)"
        )
    user = find_user_by_email(connection, email)
    if user is None:
        raise UnknownUser(f"no user {email!r}; add one with `agentworker users add`")
    connection.execute(
        sa.update(_users)
        .where(_users.c.id == user.user_id)
        .values(password_hash=passwords.hash_password(password))
    )
    return user.user_id


def authenticate_password(
    connection: sa.Connection, email: str, password: str, *, tenant: str | None = None
) -> Principal:
    """The user whose email and password these are (same answer, and same work, for an
    unknown email and a wrong password). With ``tenant``, the user must be a member."""
    user = find_user_by_email(connection, email)
    matches = passwords.verify(password, user.password_hash if user else None)
    if user is None or not matches or not user.is_active:
        raise Unauthenticated("wrong email or password")
    if user.password_hash and passwords.needs_rehash(user.password_hash):
        connection.execute(
            sa.update(_users)
            .where(_users.c.id == user.user_id)
            .values(password_hash=passwords.hash_password(password))
        )
    return user_principal(connection, user, tenant)


def authenticate_sso_header(
    connection: sa.Connection,
    headers: Mapping[str, str],
    settings: Settings,
    *,
    tenant: str | None = None,
) -> Principal:
    """The user a trusted SSO proxy names in its header; refused unless the proxy's shared
    secret header is present and right (so a client cannot name a user itself)."""
    if settings.sso_user_header is None or settings.sso_shared_secret is None:
        raise Unauthenticated(
            "SSO header sign-in is not configured: set AGENTWORKER_SSO_USER_HEADER and "
            "AGENTWORKER_SSO_SHARED_SECRET (the proxy sends it in AGENTWORKER_SSO_SECRET_HEADER)"
        )
    lowered = {name.lower(): value for name, value in headers.items()}
    presented = lowered.get(settings.sso_secret_header.lower(), "")
    if not hmac.compare_digest(
        presented.encode("utf-8"), settings.sso_shared_secret.encode("utf-8")
    ):
        raise Unauthenticated(
            f"the {settings.sso_user_header} header is trusted only from the SSO proxy, which "
            f"sends {settings.sso_secret_header}; this request did not come through it"
        )
    email = lowered.get(settings.sso_user_header.lower(), "").strip()
    if not email:
        raise Unauthenticated(f"the SSO proxy sent no {settings.sso_user_header} header")
    user = find_user_by_email(connection, email)
    if user is None or not user.is_active:
        raise Unauthenticated(
            f"the SSO proxy names {email!r}, who is not an active user here; add them with "
            "`agentworker users add`"
        )
    return user_principal(connection, user, tenant)


def user_principal(
    connection: sa.Connection, user: UserRecord, tenant: str | uuid.UUID | None
) -> Principal:
    """``user`` as a principal: of ``tenant`` with its role's scopes, or of no tenant."""
    if tenant is None:
        return Principal(
            kind=PrincipalKind.USER, tenant_id=None, user_id=user.user_id, label=user.email
        )
    tenant_id = resolve_tenant(connection, str(tenant))
    role = connection.execute(
        sa.select(_memberships.c.role).where(
            _memberships.c.tenant_id == tenant_id, _memberships.c.user_id == user.user_id
        )
    ).scalar_one_or_none()
    if role is None:
        raise Forbidden(f"{user.email} is not a member of tenant '{tenant}'")
    return Principal(
        kind=PrincipalKind.USER,
        tenant_id=tenant_id,
        user_id=user.user_id,
        scopes=ROLE_SCOPES[MembershipRole(role)],
        label=user.email,
    )
