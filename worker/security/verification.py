"""Who sent a broker submission: verify its signature, or trust the broker, per tenant.

A tenant's ``broker_auth`` says which: ``trusted`` (the default; whoever may publish on the
broker is the tenant's ``BROKER`` principal) or ``signed`` (every submission must carry a valid
``auth`` field, ``signing.py``). A signed message is verified whatever the mode.

A signed submission is refused (``Unauthenticated``, code ``unauthenticated``; ``Forbidden``,
code ``forbidden``, for a missing scope) when its key is unknown, of another tenant, revoked or
expired, its signature is wrong, its timestamp is outside ``AGENTWORKER_SIGNATURE_WINDOW_SECONDS``
of the worker's clock, its key lacks the task's scope (``SCOPE_FOR_TASK``), or its nonce was used
before by another message (a redelivery of the same broker message is not a replay). Each
refusal of a known tenant is audited (``audit_logs``, action ``submission.refused``) in a
transaction of its own; each accepted signed submission is audited as ``submission.signed``
with its nonce, in one transaction.
"""

from __future__ import annotations

import hmac
import re
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from models import AuditLog, BrokerAuth, SubmissionNonce, Tenant
from models.tenant_scope import scope_transaction
from worker.core.contract import INGEST_KNOWLEDGE, RESOLVE_APPROVAL, RUN_TASK, START_WORKFLOW
from worker.core.settings import Settings
from worker.security.api_keys import (
    find_key_by_prefix,
    load_key,
    principal_of,
    touch_key,
    usable_or_refuse,
)
from worker.security.credentials import Forbidden, Unauthenticated
from worker.security.encryption import MissingEncryptionKey, SecretBox, UndecryptableSecret
from worker.security.principals import Principal, PrincipalKind, Scope
from worker.security.signing import AUTH_FIELD, canonical_form, signature_of

__all__ = ["SCOPE_FOR_TASK", "authenticate_submission", "purge_nonces", "verify_submission"]

#: The scope a key needs to send each task.
SCOPE_FOR_TASK: dict[str, Scope] = {
    RUN_TASK: Scope.SUBMIT,
    START_WORKFLOW: Scope.SUBMIT,
    INGEST_KNOWLEDGE: Scope.SUBMIT,
    RESOLVE_APPROVAL: Scope.DECIDE,
}

_KEY = re.compile(r"^awk_[A-Za-z0-9]{8}$")
_NONCE = re.compile(r"^[A-Za-z0-9_\-]{16,128}$")
_SIGNATURE = re.compile(r"^[0-9a-f]{64}$")
_HOW_TO_SIGN = "see the README's 'Signed submissions'"

_nonces = SubmissionNonce.__table__
_tenants = Tenant.__table__
_audit = AuditLog.__table__


def authenticate_submission(
    engine: sa.Engine,
    settings: Settings,
    task_name: str,
    payload: Mapping[str, Any],
    *,
    tenant_id: uuid.UUID,
    message_id: str | None,
) -> Principal:
    """The principal behind ``payload``, a ``task_name`` submission for ``tenant_id``; a
    refusal is audited before it is raised."""
    try:
        with engine.begin() as connection:
            scope_transaction(connection, tenant_id)
            return verify_submission(
                connection, settings, task_name, payload, tenant_id=tenant_id, message_id=message_id
            )
    except Unauthenticated as error:
        with engine.begin() as connection:
            scope_transaction(connection, tenant_id)
            _audit_refusal(connection, tenant_id, task_name, payload, error, message_id)
        raise


def verify_submission(
    connection: sa.Connection,
    settings: Settings,
    task_name: str,
    payload: Mapping[str, Any],
    *,
    tenant_id: uuid.UUID,
    message_id: str | None,
    now: float | None = None,
) -> Principal:
    """Verify ``payload`` in ``connection``'s transaction (scoped to ``tenant_id``)."""
    auth = payload.get(AUTH_FIELD)
    if auth is None:
        if _mode(connection, tenant_id) == BrokerAuth.SIGNED:
            raise Unauthenticated(
                "this tenant accepts only signed submissions (broker_auth 'signed'): add an "
                f"'auth' field signed with one of its API keys; {_HOW_TO_SIGN}"
            )
        return Principal(kind=PrincipalKind.BROKER, tenant_id=tenant_id, label="broker")
    prefix, timestamp, nonce, signature = _fields(auth)

    owner = find_key_by_prefix(connection, prefix)
    if owner is None:
        raise Unauthenticated(
            f"unknown API key {prefix}; sign with a key `agentworker keys list` shows"
        )
    if owner.tenant_id != tenant_id:
        raise Unauthenticated(
            f"API key {prefix} is not a key of this tenant; sign with one of the tenant's keys"
        )
    record = load_key(connection, owner.key_id)
    expected = signature_of(
        _secret(settings, record.signing_secret_encrypted),
        canonical_form(task_name, payload, key=prefix, timestamp=timestamp, nonce=nonce),
    )
    if not hmac.compare_digest(expected, signature):
        raise Unauthenticated(
            f"wrong signature for key {prefix}: sign the canonical form of exactly these kwargs "
            f"with the whole key; {_HOW_TO_SIGN}"
        )
    clock = time.time() if now is None else now
    usable_or_refuse(record, datetime.fromtimestamp(clock, UTC))
    window = settings.signature_window_seconds
    if abs(clock - timestamp) > window:
        raise Unauthenticated(
            f"signature timestamp {timestamp} is {abs(clock - timestamp):.0f} s from the "
            f"worker's clock; the window is {window:.0f} s "
            "(AGENTWORKER_SIGNATURE_WINDOW_SECONDS): sign just before sending, keep clocks in sync"
        )
    required = SCOPE_FOR_TASK.get(task_name, Scope.ADMIN)
    principal = principal_of(record)
    if not principal.allows(required):
        raise Forbidden(
            f"{principal.label} lacks the '{required.value}' scope that {task_name} needs "
            f"(it has: {', '.join(sorted(s.value for s in record.scopes))}); issue a key with "
            f"`agentworker keys issue --scope {required.value}`"
        )
    _use_nonce(connection, tenant_id, record.key_id, nonce, message_id)
    touch_key(connection, record.key_id)
    purge_nonces(connection, older_than_seconds=2 * window, key_id=record.key_id)
    connection.execute(
        sa.insert(_audit).values(
            tenant_id=tenant_id,
            actor=principal.label[:255],
            action="submission.signed",
            resource_type="submission",
            resource_id=message_id,
            changes={"task": task_name, "nonce": nonce, "timestamp": timestamp},
            metadata=principal.audit_fields(),
        )
    )
    return principal


def purge_nonces(
    connection: sa.Connection, *, older_than_seconds: float, key_id: uuid.UUID | None = None
) -> int:
    """Forget nonces seen longer ago than ``older_than_seconds`` (twice the window suffices:
    a message that old is refused by its timestamp). Returns how many went."""
    condition = _nonces.c.seen_at < sa.func.now() - sa.func.make_interval(
        0, 0, 0, 0, 0, 0, older_than_seconds
    )
    if key_id is not None:
        condition = sa.and_(_nonces.c.key_id == key_id, condition)
    return connection.execute(sa.delete(_nonces).where(condition)).rowcount or 0


def _mode(connection: sa.Connection, tenant_id: uuid.UUID) -> BrokerAuth:
    value = connection.execute(
        sa.select(_tenants.c.broker_auth).where(_tenants.c.id == tenant_id)
    ).scalar_one()
    return BrokerAuth(value)


def _fields(auth: Any) -> tuple[str, int, str, str]:
    if not isinstance(auth, Mapping):
        raise Unauthenticated(
            f"'auth' must be an object with key, timestamp, nonce, signature; {_HOW_TO_SIGN}"
        )
    prefix, timestamp = auth.get("key"), auth.get("timestamp")
    nonce, signature = auth.get("nonce"), auth.get("signature")
    if not isinstance(prefix, str) or not _KEY.match(prefix):
        raise Unauthenticated("'auth.key' must be an API key's prefix (awk_ and 8 characters)")
    if not isinstance(timestamp, int) or isinstance(timestamp, bool):
        raise Unauthenticated("'auth.timestamp' must be an integer: unix seconds")
    if not isinstance(nonce, str) or not _NONCE.match(nonce):
        raise Unauthenticated("'auth.nonce' must be 16 to 128 letters, digits, '-' or '_'")
    if not isinstance(signature, str) or not _SIGNATURE.match(signature):
        raise Unauthenticated("'auth.signature' must be 64 lower-case hex digits (HMAC-SHA256)")
    return prefix, timestamp, nonce, signature


def _secret(settings: Settings, encrypted: bytes) -> str:
    try:
        return SecretBox.from_settings(settings).decrypt(encrypted)
    except (MissingEncryptionKey, UndecryptableSecret) as error:
        raise Unauthenticated(
            f"this worker cannot read the key's signing secret ({error}); the operator must "
            "set AGENTWORKER_ENCRYPTION_KEYS as when the key was issued"
        ) from error


def _use_nonce(
    connection: sa.Connection,
    tenant_id: uuid.UUID,
    key_id: uuid.UUID,
    nonce: str,
    message_id: str | None,
) -> None:
    inserted = connection.execute(
        pg_insert(_nonces)
        .values(tenant_id=tenant_id, key_id=key_id, nonce=nonce, message_id=message_id)
        .on_conflict_do_nothing(index_elements=["key_id", "nonce"])
        .returning(_nonces.c.nonce)
    ).first()
    if inserted is not None:
        return
    seen_by = connection.execute(
        sa.select(_nonces.c.message_id).where(_nonces.c.key_id == key_id, _nonces.c.nonce == nonce)
    ).scalar_one_or_none()
    if message_id is not None and seen_by == message_id:
        return  # the broker delivered the same message again: the task layer deduplicates it
    raise Unauthenticated(
        f"replayed submission: nonce {nonce} was already used with this key; sign each "
        "submission with a new nonce"
    )


def _audit_refusal(
    connection: sa.Connection,
    tenant_id: uuid.UUID,
    task_name: str,
    payload: Mapping[str, Any],
    error: Unauthenticated,
    message_id: str | None,
) -> None:
    auth = payload.get(AUTH_FIELD)
    key = auth.get("key") if isinstance(auth, Mapping) else None
    actor = f"key {key}" if isinstance(key, str) else "broker"
    connection.execute(
        sa.insert(_audit).values(
            tenant_id=tenant_id,
            actor=actor[:255],
            action="submission.refused",
            resource_type="submission",
            resource_id=message_id,
            changes={"task": task_name, "code": error.code, "reason": str(error)},
            metadata={"channel": "broker", "key": key if isinstance(key, str) else None},
        )
    )
