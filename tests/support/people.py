"""Users and their roles in tenants, for tests."""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from tests.support.agents import ensure_tenant


def add_member(engine: sa.Engine, tenant: str, email: str, role: str) -> uuid.UUID:
    tenant_id = ensure_tenant(engine, tenant)
    with engine.begin() as connection:
        user_id = connection.execute(
            sa.text(
                "INSERT INTO users (email) VALUES (:e) ON CONFLICT (email) "
                "DO UPDATE SET email = excluded.email RETURNING id"
            ),
            {"e": email},
        ).scalar_one()
        connection.execute(
            sa.text(
                "INSERT INTO tenant_memberships (tenant_id, user_id, role) VALUES (:t, :u, :r)"
            ),
            {"t": tenant_id, "u": user_id, "r": role},
        )
    return user_id
