"""Tenants named by submissions: a tenant's id from its id or slug."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from models import Tenant
from models.tenant_scope import scope_transaction
from worker.core.errors import AgentWorkerError


class UnknownTenant(AgentWorkerError):
    code = "unknown_tenant"


def resolve_tenant(connection: sa.Connection, reference: str) -> uuid.UUID:
    """A tenant's id from its id or slug; inactive tenants are refused.

    Naming the tenant enters its scope for the rest of ``connection``'s transaction
    (``models.tenant_scope``): what the caller then reads and writes there is that tenant's.
    """
    if not _storable(reference):
        raise UnknownTenant(
            f"unknown tenant {reference!r}: a tenant's slug has no NUL characters or lone "
            "surrogates; give a tenant's id or slug (see the tenants table)"
        )
    try:
        condition = Tenant.id == uuid.UUID(reference)
    except ValueError:
        condition = Tenant.slug == reference
    row = connection.execute(sa.select(Tenant.id, Tenant.is_active).where(condition)).one_or_none()
    if row is None:
        raise UnknownTenant(
            f"unknown tenant '{reference}': give a tenant's id or slug (see the tenants table)"
        )
    if not row.is_active:
        raise UnknownTenant(f"tenant '{reference}' is deactivated; reactivate it to submit work")
    scope_transaction(connection, row.id)
    return row.id


def tenant_named_by(connection: sa.Connection, payload: Any) -> uuid.UUID | None:
    """The known, active tenant a (possibly broken) payload names, if any."""
    reference = payload.get("tenant") if isinstance(payload, Mapping) else None
    if not isinstance(reference, str) or not reference:
        return None
    try:
        return resolve_tenant(connection, reference)
    except UnknownTenant:
        return None


def _storable(text: str) -> bool:
    """Whether PostgreSQL can compare ``text`` at all (psycopg cannot even send the rest)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text
