"""Tenant API keys: issue (shown once), list, revoke, and authenticate a bearer.

A key is ``awk_`` and 48 random characters (``credentials.py``). It is stored twice, never in
clear: hashed (SHA-256), to find the key a bearer presents, and encrypted under
``AGENTWORKER_ENCRYPTION_KEYS``, because checking an HMAC signature made with the key needs the
key itself (``verification.py``). Signed messages name a key by its prefix only.

The tenant's legacy key (seed 003's ``tenants.api_key_hash``, a SHA-256 hex) is kept meaningful:
a bearer presenting it is the tenant's service with the ``submit`` and ``read`` scopes. It cannot
sign (only its hash is stored), decide or administer; issue an ``api_keys`` key for that.

Two look-ups run before the tenant is known (row-level security would hide the row otherwise):
``find_key_by_prefix`` and ``find_tenant_by_legacy_key``. Each returns ids only.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from models import ApiKey, Tenant
from models.tenant_scope import scope_transaction
from worker.core.errors import AgentWorkerError
from worker.security.credentials import (
    API_KEY_KIND,
    Unauthenticated,
    credential_hash,
    new_credential,
    prefix_of,
    revoke,
    same_hash,
)
from worker.security.encryption import SecretBox
from worker.security.principals import Principal, PrincipalKind, Scope

__all__ = [
    "LEGACY_KEY_SCOPES",
    "IssuedKey",
    "KeyOwner",
    "KeyRecord",
    "KeyView",
    "UnknownKey",
    "authenticate_bearer",
    "find_key_by_prefix",
    "find_tenant_by_legacy_key",
    "issue_key",
    "key_label",
    "list_keys",
    "load_key",
    "principal_of",
    "revoke_key",
    "touch_key",
    "usable_or_refuse",
]

_keys = ApiKey.__table__
_tenants = Tenant.__table__

#: What the legacy ``tenants.api_key_hash`` key may do.
LEGACY_KEY_SCOPES = frozenset({Scope.SUBMIT, Scope.READ})


class UnknownKey(AgentWorkerError):
    code = "unknown_key"


@dataclass(frozen=True)
class IssuedKey:
    key_id: uuid.UUID
    tenant_id: uuid.UUID
    name: str
    prefix: str
    #: The whole key: shown once, never stored in clear.
    key: str
    scopes: tuple[str, ...]
    expires_at: datetime | None


@dataclass(frozen=True)
class KeyView:
    """A key as lists show it: never the key itself."""

    key_id: uuid.UUID
    tenant_id: uuid.UUID
    name: str
    prefix: str
    scopes: tuple[str, ...]
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None

    def state(self, now: datetime | None = None) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= (now or datetime.now(UTC)):
            return "expired"
        return "active"


@dataclass(frozen=True)
class KeyOwner:
    """What ``find_key_by_prefix`` may tell before the tenant is known."""

    key_id: uuid.UUID
    tenant_id: uuid.UUID


@dataclass(frozen=True)
class KeyRecord:
    """A key as verification needs it (read inside its tenant's scope)."""

    key_id: uuid.UUID
    tenant_id: uuid.UUID
    name: str
    prefix: str
    key_hash: str
    signing_secret_encrypted: bytes
    scopes: frozenset[Scope]
    expires_at: datetime | None
    revoked_at: datetime | None


def key_label(prefix: str, name: str) -> str:
    """How audit rows and messages name a key: ``key awk_3f2A9bQz (billing-service)``."""
    return f"key {prefix} ({name})"


def issue_key(
    connection: sa.Connection,
    box: SecretBox,
    *,
    tenant_id: uuid.UUID,
    name: str,
    scopes: Iterable[Scope | str],
    expires_at: datetime | None = None,
) -> IssuedKey:
    """A new key for ``tenant_id``; the returned ``key`` is the only time it is seen."""
    wanted = _scopes(scopes)
    if not name.strip():
        raise AgentWorkerError("a key needs a name that says who holds it, e.g. 'billing-service'")
    for _ in range(5):  # a prefix collision (8 random base62 characters) is rare; draw again
        key, prefix = new_credential(API_KEY_KIND)
        try:
            with connection.begin_nested():
                key_id = connection.execute(
                    sa.insert(_keys)
                    .values(
                        tenant_id=tenant_id,
                        name=name.strip(),
                        prefix=prefix,
                        key_hash=credential_hash(key),
                        signing_secret_encrypted=box.encrypt(key),
                        scopes=[scope.value for scope in wanted],
                        expires_at=expires_at,
                    )
                    .returning(_keys.c.id)
                ).scalar_one()
        except IntegrityError:
            continue
        return IssuedKey(
            key_id, tenant_id, name.strip(), prefix, key, tuple(s.value for s in wanted), expires_at
        )
    raise AgentWorkerError("could not draw a unique key prefix in 5 attempts; try again")


def list_keys(connection: sa.Connection, tenant_id: uuid.UUID) -> list[KeyView]:
    rows = connection.execute(
        sa.select(_keys)
        .where(_keys.c.tenant_id == tenant_id)
        .order_by(_keys.c.created_at, _keys.c.prefix)
    ).all()
    return [_view(row) for row in rows]


def revoke_key(connection: sa.Connection, prefix: str) -> KeyView:
    """Revoke the key ``prefix`` names (at once: the next message signed with it is refused).
    Revoking a revoked key changes nothing and returns it."""
    owner = find_key_by_prefix(connection, prefix)
    if owner is None:
        raise UnknownKey(f"no API key with prefix {prefix!r}; see `agentworker keys list`")
    return _view(revoke(connection, _keys, owner.key_id, owner.tenant_id))


# --- the look-ups made before the tenant is known ---------------------------------------------


def find_key_by_prefix(connection: sa.Connection, prefix: str) -> KeyOwner | None:
    """PRE-TENANT LOOK-UP: the key a prefix names, and its tenant (ids only)."""
    # Across tenants: a SECURITY DEFINER function of migration 0007 (row-level security).
    row = connection.execute(
        sa.text("SELECT key_id, tenant_id FROM agentworker_api_key_by_prefix(:p)"), {"p": prefix}
    ).one_or_none()
    return KeyOwner(row.key_id, row.tenant_id) if row is not None else None


def find_tenant_by_legacy_key(connection: sa.Connection, key_hash: str) -> uuid.UUID | None:
    """PRE-TENANT LOOK-UP: the active tenant whose legacy ``api_key_hash`` is ``key_hash``."""
    return connection.execute(
        sa.select(_tenants.c.id).where(
            _tenants.c.api_key_hash == key_hash, _tenants.c.is_active.is_(True)
        )
    ).scalar_one_or_none()


# --- inside the tenant's scope ----------------------------------------------------------------


def load_key(connection: sa.Connection, key_id: uuid.UUID) -> KeyRecord:
    row = connection.execute(sa.select(_keys).where(_keys.c.id == key_id)).one()
    return KeyRecord(
        key_id=row.id,
        tenant_id=row.tenant_id,
        name=row.name,
        prefix=row.prefix,
        key_hash=row.key_hash,
        signing_secret_encrypted=bytes(row.signing_secret_encrypted),
        scopes=frozenset(Scope(s) for s in row.scopes),
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
    )


def usable_or_refuse(record: KeyRecord, now: datetime) -> None:
    """Refuse a revoked or expired key, saying which and what to do."""
    label = key_label(record.prefix, record.name)
    if record.revoked_at is not None:
        raise Unauthenticated(
            f"{label} was revoked at {record.revoked_at.isoformat(timespec='seconds')}; "
            "issue a new key with `agentworker keys issue`"
        )
    if record.expires_at is not None and record.expires_at <= now:
        raise Unauthenticated(
            f"{label} expired at {record.expires_at.isoformat(timespec='seconds')}; "
            "issue a new key with `agentworker keys issue`"
        )


def touch_key(connection: sa.Connection, key_id: uuid.UUID) -> None:
    """Record the key's use (at most one write a minute per key)."""
    connection.execute(
        sa.update(_keys)
        .where(
            _keys.c.id == key_id,
            sa.or_(
                _keys.c.last_used_at.is_(None),
                _keys.c.last_used_at < sa.func.now() - sa.text("interval '1 minute'"),
            ),
        )
        .values(last_used_at=sa.func.now())
    )


def principal_of(record: KeyRecord) -> Principal:
    return Principal(
        kind=PrincipalKind.SERVICE_KEY,
        tenant_id=record.tenant_id,
        key_id=record.key_id,
        scopes=record.scopes,
        label=key_label(record.prefix, record.name),
    )


def authenticate_bearer(connection: sa.Connection, raw_key: str) -> Principal:
    """The principal behind a bearer key (an ``api_keys`` key, or the tenant's legacy key).
    Enters the key's tenant scope for the rest of ``connection``'s transaction."""
    raw_key = raw_key.strip()
    prefix = prefix_of(raw_key, API_KEY_KIND)
    if prefix is None:
        return _legacy_principal(connection, raw_key)
    owner = find_key_by_prefix(connection, prefix)
    if owner is None:
        raise Unauthenticated(f"unknown API key {prefix}…; check the key, or issue a new one")
    scope_transaction(connection, owner.tenant_id)
    record = load_key(connection, owner.key_id)
    if not same_hash(raw_key, record.key_hash):
        raise Unauthenticated(f"wrong API key for prefix {prefix}; check the key")
    usable_or_refuse(record, datetime.now(UTC))
    touch_key(connection, record.key_id)
    return principal_of(record)


def _legacy_principal(connection: sa.Connection, raw_key: str) -> Principal:
    tenant_id = find_tenant_by_legacy_key(connection, credential_hash(raw_key)) if raw_key else None
    if tenant_id is None:
        raise Unauthenticated(
            "unknown API key: a key looks like awk_ and 48 letters and digits; check it, or "
            "issue one with `agentworker keys issue`"
        )
    scope_transaction(connection, tenant_id)
    return Principal(
        kind=PrincipalKind.SERVICE_KEY,
        tenant_id=tenant_id,
        scopes=LEGACY_KEY_SCOPES,
        label="the tenant's legacy key",
    )


def _scopes(scopes: Iterable[Scope | str]) -> tuple[Scope, ...]:
    wanted: list[Scope] = []
    for scope in scopes:
        try:
            value = Scope(scope)
        except ValueError:
            known = ", ".join(s.value for s in Scope)
            raise AgentWorkerError(f"unknown scope {scope!r}; known scopes: {known}") from None
        if value not in wanted:
            wanted.append(value)
    if not wanted:
        raise AgentWorkerError("a key needs at least one scope: submit, read, decide or admin")
    return tuple(wanted)


def _view(row: sa.Row) -> KeyView:  # type: ignore[type-arg]
    return KeyView(
        key_id=row.id,
        tenant_id=row.tenant_id,
        name=row.name,
        prefix=row.prefix,
        scopes=tuple(row.scopes),
        created_at=row.created_at,
        expires_at=row.expires_at,
        last_used_at=row.last_used_at,
        revoked_at=row.revoked_at,
    )
