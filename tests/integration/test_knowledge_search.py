"""Searching the knowledge base holds no database connection while the query is embedded:
the embedding is an HTTP call to the provider, and the pool it would hold is the one the lease
heartbeat needs."""

from __future__ import annotations

import sqlalchemy as sa

from models import EMBEDDING_DIM
from tests.support.agents import ensure_tenant
from worker.agents.knowledge import search


def test_no_connection_is_held_while_the_query_is_embedded(engine: sa.Engine) -> None:
    tenant_id = ensure_tenant(engine)
    checked_out: list[int] = []

    def embed(texts: list[str]) -> list[list[float]]:
        checked_out.append(engine.pool.checkedout())  # type: ignore[attr-defined]
        return [[1.0] + [0.0] * (EMBEDDING_DIM - 1) for _ in texts]

    assert search(engine, embed, tenant_id, "venues in Lisbon", 3) == []
    assert checked_out == [0]
