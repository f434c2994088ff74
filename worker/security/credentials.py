"""Random credentials with a visible prefix (API keys, user tokens), and why they are refused.

A credential is ``<kind>_`` and 48 random base62 characters, e.g. ``awk_3f2A9bQz…``; its
first 12 characters (``awk_3f2A9bQz``) are its *prefix*: unique, stored in clear, shown in
lists and audit rows, and what a signed message names. The whole credential is shown once.

Stored as SHA-256, not with a slow KDF: a credential carries 48 * log2(62), about 285 bits, of
randomness, so no guess list or brute force can find one from its hash, however fast the hash.
A memory-hard KDF protects *low-entropy* secrets (passwords, see ``passwords.py``); for random
keys it would only make every request pay ~50 ms of CPU.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
import uuid
from typing import Any

import sqlalchemy as sa

from models.tenant_scope import scope_transaction
from worker.core.errors import AgentWorkerError

API_KEY_KIND = "awk"
USER_TOKEN_KIND = "awu"
PREFIX_LENGTH = 12  # "awk_" + 8 random characters
_RANDOM_LENGTH = 48
_ALPHABET = string.ascii_letters + string.digits


class Unauthenticated(AgentWorkerError):
    """The caller could not be authenticated: no, an unknown, a wrong, a revoked or an expired
    credential or signature. Retrying the same message cannot help."""

    code = "unauthenticated"
    retryable = False


class Forbidden(Unauthenticated):
    """The caller is authenticated but lacks the scope (or role) for what it asked."""

    code = "forbidden"


def new_credential(kind: str) -> tuple[str, str]:
    """(whole credential, its prefix) for ``kind`` (``awk`` or ``awu``)."""
    credential = f"{kind}_" + "".join(secrets.choice(_ALPHABET) for _ in range(_RANDOM_LENGTH))
    return credential, credential[:PREFIX_LENGTH]


def prefix_of(credential: str, kind: str) -> str | None:
    """The prefix of a well-formed ``kind`` credential, or None."""
    if (
        len(credential) != len(kind) + 1 + _RANDOM_LENGTH
        or not credential.startswith(f"{kind}_")
        or not all(c in _ALPHABET for c in credential[len(kind) + 1 :])
    ):
        return None
    return credential[:PREFIX_LENGTH]


def credential_hash(credential: str) -> str:
    """SHA-256 (hex) of a credential: see the module's docstring for why that suffices."""
    return hashlib.sha256(credential.encode("utf-8")).hexdigest()


def same_hash(credential: str, stored_hash: str) -> bool:
    """Constant-time comparison of ``credential``'s hash with a stored one."""
    return hmac.compare_digest(credential_hash(credential), stored_hash)


def revoke(
    connection: sa.Connection, table: sa.Table, credential_id: uuid.UUID, tenant_id: uuid.UUID
) -> sa.Row[Any]:
    """Revoke a key's or a token's row, in its tenant's scope, and return it; revoking a
    revoked one changes nothing."""
    scope_transaction(connection, tenant_id)
    row = connection.execute(
        sa.update(table)
        .where(table.c.id == credential_id, table.c.revoked_at.is_(None))
        .values(revoked_at=sa.func.now())
        .returning(table)
    ).one_or_none()
    if row is None:
        row = connection.execute(sa.select(table).where(table.c.id == credential_id)).one()
    return row
