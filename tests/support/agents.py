"""Test data for agent runs: a tenant and agents with their own model names, so that faults
programmed into the local LLM server for one test's model never reach another's."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from models import AgentType, AIAgent


def ensure_tenant(engine: sa.Engine, slug: str = "acme") -> uuid.UUID:
    with engine.begin() as connection:
        return connection.execute(
            sa.text(
                "INSERT INTO tenants (name, slug) VALUES (:slug, :slug) "
                "ON CONFLICT (slug) DO UPDATE SET name = excluded.name RETURNING id"
            ),
            {"slug": slug},
        ).scalar_one()


def add_agent(
    engine: sa.Engine,
    name: str,
    *,
    tools: Sequence[str] = (),
    tenant: str = "acme",
    model: str | None = None,
    **configuration: Any,
) -> str:
    """Create an agent; returns its model name (unique unless given)."""
    tenant_id = ensure_tenant(engine, tenant)
    model = model or f"model-{name}-{uuid.uuid4().hex[:8]}"
    with engine.begin() as connection:
        connection.execute(
            sa.insert(AIAgent).values(
                tenant_id=tenant_id,
                name=name,
                type=AgentType.SUPPORT,
                version="1",
                configuration={
                    "model": model,
                    "tools": list(tools),
                    "system_prompt": "You help.",
                    **configuration,
                },
            )
        )
    return model
