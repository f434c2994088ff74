"""Knowledge sources and their embedded chunks for retrieval (seed 000).

The embedding dimension is part of the schema, so it is read here, once, from
``AGENTWORKER_EMBEDDING_DIM`` (default 1536); the migrations read the same value.
"""

from __future__ import annotations

import enum
import os
import uuid
from typing import Any

from pgvector.sqlalchemy import Vector
from sqlalchemy import CheckConstraint, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import (
    NO_IMPLICIT_IO,
    Base,
    TenantOwned,
    Timestamps,
    UUIDPrimaryKey,
    fk,
    text_enum,
)

DEFAULT_EMBEDDING_DIM = 1536


def embedding_dimension() -> int:
    raw = os.environ.get("AGENTWORKER_EMBEDDING_DIM", str(DEFAULT_EMBEDDING_DIM))
    try:
        dim = int(raw)
    except ValueError:
        raise ValueError(
            f"AGENTWORKER_EMBEDDING_DIM must be a whole number of dimensions, got {raw!r}"
        ) from None
    if not 1 <= dim <= 2000:
        raise ValueError(
            f"AGENTWORKER_EMBEDDING_DIM={dim} is outside 1..2000, the range pgvector's HNSW "
            "index supports for the vector type"
        )
    return dim


EMBEDDING_DIM = embedding_dimension()


class SourceType(enum.StrEnum):
    TEXT = "text"
    MARKDOWN = "markdown"
    FILE = "file"
    URL = "url"


class SourceStatus(enum.StrEnum):
    PENDING = "pending"
    READY = "ready"
    FAILED = "failed"


class KnowledgeSource(UUIDPrimaryKey, TenantOwned, Timestamps, Base):
    """A document given to a tenant's knowledge base. ``content_hash`` (SHA-256 of the text) is
    unique per tenant, so ingesting the same content twice is a no-op."""

    __tablename__ = "knowledge_sources"
    __table_args__ = (UniqueConstraint("tenant_id", "content_hash"),)

    name: Mapped[str] = mapped_column(String(255))
    source_type: Mapped[SourceType] = mapped_column(text_enum(SourceType, "source_type"))
    uri: Mapped[str | None] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[SourceStatus] = mapped_column(
        text_enum(SourceStatus, "source_status"),
        default=SourceStatus.PENDING,
        server_default=SourceStatus.PENDING.value,
    )
    chunk_count: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    chunk_size: Mapped[int | None] = mapped_column(Integer)
    chunk_overlap: Mapped[int | None] = mapped_column(Integer)
    embedding_model: Mapped[str | None] = mapped_column(String(200))
    error: Mapped[str | None] = mapped_column(Text)
    metadata_: Mapped[dict[str, Any]] = mapped_column(
        "metadata", default=dict, server_default=text("'{}'::jsonb")
    )

    chunks: Mapped[list[Chunk]] = relationship(
        back_populates="source",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="Chunk.chunk_index",
        lazy=NO_IMPLICIT_IO,
    )


class Chunk(UUIDPrimaryKey, TenantOwned, Timestamps, Base):
    """A piece of a source with its embedding; searched by cosine distance via HNSW."""

    __tablename__ = "chunks"
    __table_args__ = (
        UniqueConstraint("source_id", "chunk_index"),
        CheckConstraint("chunk_index >= 0", name="chunk_index_nonnegative"),
        Index(
            "ix_chunks_embedding_hnsw",
            "embedding",
            postgresql_using="hnsw",
            postgresql_ops={"embedding": "vector_cosine_ops"},
        ),
    )

    source_id: Mapped[uuid.UUID] = fk(
        "knowledge_sources.id", ondelete="CASCADE", nullable=False, index=False
    )
    chunk_index: Mapped[int] = mapped_column(Integer)
    content: Mapped[str] = mapped_column(Text)
    token_count: Mapped[int | None] = mapped_column(Integer)
    embedding: Mapped[list[float]] = mapped_column(Vector(EMBEDDING_DIM))
    metadata_: Mapped[dict[str, Any]] = mapped_column(
        "metadata", default=dict, server_default=text("'{}'::jsonb")
    )

    source: Mapped[KnowledgeSource] = relationship(back_populates="chunks", lazy=NO_IMPLICIT_IO)
