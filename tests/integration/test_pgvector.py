from __future__ import annotations

import math
import random

import sqlalchemy as sa
from sqlalchemy.orm import Session

from models import EMBEDDING_DIM, Chunk
from tests.support.rows import RowFactory


def _cosine_distance(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return 1 - dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


def _random_vectors(count: int, seed: int) -> list[list[float]]:
    rng = random.Random(seed)
    return [[rng.uniform(-1, 1) for _ in range(EMBEDDING_DIM)] for _ in range(count)]


def _store_chunks(session: Session, vectors: list[list[float]]) -> None:
    rows = RowFactory(session.connection())
    source_id = rows.insert("knowledge_sources")
    session.add_all(
        Chunk(
            tenant_id=rows.tenant_id,
            source_id=source_id,
            chunk_index=i,
            content=f"chunk {i}",
            embedding=vector,
        )
        for i, vector in enumerate(vectors)
    )
    session.commit()


def test_chunks_come_back_in_nearest_neighbour_order(session: Session) -> None:
    vectors = _random_vectors(40, seed=7)
    _store_chunks(session, vectors)
    query = _random_vectors(1, seed=99)[0]

    found = session.scalars(
        sa.select(Chunk.chunk_index).order_by(Chunk.embedding.cosine_distance(query)).limit(5)
    ).all()

    expected = sorted(range(len(vectors)), key=lambda i: _cosine_distance(vectors[i], query))[:5]
    assert found == expected


def test_nearest_neighbour_search_uses_the_hnsw_index(session: Session) -> None:
    _store_chunks(session, _random_vectors(20, seed=1))
    query = _random_vectors(1, seed=2)[0]
    # Tiny tables make a sequential scan cheaper; the question is whether the index is usable.
    session.execute(sa.text("SET LOCAL enable_seqscan = off"))
    statement = sa.select(Chunk.id).order_by(Chunk.embedding.cosine_distance(query)).limit(3)
    compiled = statement.compile(session.get_bind(), compile_kwargs={"literal_binds": True})
    plan = "\n".join(session.scalars(sa.text(f"EXPLAIN {compiled}")).all())
    assert "Index Scan using ix_chunks_embedding_hnsw" in plan, plan
