"""Knowledge (RAG, seed 000): ingest documents as embedded chunks; search them by meaning.

Ingesting the same content twice is a no-op (a SHA-256 of the text, unique per tenant). Search
embeds the query through the gateway and returns the tenant's nearest chunks by cosine distance
through the HNSW index (iterative scan on, so a tenant filter never starves the result).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import sqlalchemy as sa

from models import (
    EMBEDDING_DIM,
    Chunk,
    KnowledgeSource,
    ModelUsageType,
    SourceStatus,
    SourceType,
)
from models.tenant_scope import tenant_scope
from worker.core.contract import IngestKnowledgeRequest
from worker.core.errors import AgentWorkerError
from worker.core.limits import check_size
from worker.core.settings import Settings
from worker.core.tenants import resolve_tenant
from worker.durable.rows import insert_once
from worker.durable.states import KNOWLEDGE_SOURCE
from worker.llm.gateway import Attempt, LLMGateway, ProviderConfig
from worker.llm.providers import resolve_provider
from worker.security.redact import scrub

_sources = cast(sa.Table, KnowledgeSource.__table__)
_chunks = cast(sa.Table, Chunk.__table__)


class KnowledgeInputError(AgentWorkerError):
    code = "invalid_knowledge_input"


@dataclass(frozen=True)
class IngestResult:
    source_id: uuid.UUID
    created: bool
    chunks: int


@dataclass(frozen=True)
class Hit:
    chunk_id: uuid.UUID
    source_id: uuid.UUID
    source_name: str
    chunk_index: int
    content: str
    score: float


def chunk_text(text: str, size: int, overlap: int) -> list[str]:
    """Windows of at most ``size`` characters, cut at whitespace (a longer word stands alone).
    Each window starts with the last words of the one before, up to ``overlap`` characters,
    but always adds at least one new word."""
    if overlap >= size:
        raise KnowledgeInputError(
            f"chunk overlap ({overlap}) must be smaller than the chunk size ({size})"
        )
    words = text.split()
    chunks: list[str] = []
    start = 0
    while start < len(words):
        end, length = start + 1, len(words[start])
        while end < len(words) and length + 1 + len(words[end]) <= size:
            length += 1 + len(words[end])
            end += 1
        chunks.append(" ".join(words[start:end]))
        if end == len(words):
            break
        start = _overlap_start(words, start, end, size, overlap)
    return chunks


def _overlap_start(words: list[str], start: int, end: int, size: int, overlap: int) -> int:
    """Where the next window starts: the tail of this one that fits in ``overlap`` characters
    and still leaves room for the next new word."""
    back, kept = end, -1
    while back - 1 > start and kept + 1 + len(words[back - 1]) <= overlap:
        back -= 1
        kept += 1 + len(words[back])
    while back < end and kept + 1 + len(words[end]) > size:  # the next word must fit too
        kept -= 1 + len(words[back])
        back += 1
    return back


@dataclass(frozen=True)
class Embedder:
    gateway: LLMGateway
    provider: ProviderConfig
    model: str
    on_attempt: Callable[[Attempt], None] | None = None

    def __call__(self, texts: list[str]) -> list[list[float]]:
        return self.gateway.embed(
            self.provider,
            model=self.model,
            texts=texts,
            dimensions=EMBEDDING_DIM,
            on_attempt=self.on_attempt,
        ).vectors


def embedder_for(
    connection: sa.Connection,
    settings: Settings,
    gateway: LLMGateway,
    tenant_id: uuid.UUID,
) -> Embedder:
    provider, model = resolve_provider(
        connection,
        settings,
        tenant_id,
        usage=ModelUsageType.EMBEDDING,
    )
    return Embedder(gateway, provider, model or settings.embedding_model)


def read_document(request: IngestKnowledgeRequest) -> tuple[str, SourceType, str | None]:
    if (request.text is None) == (request.path is None):
        raise KnowledgeInputError("give the document as exactly one of 'text' or 'path'")
    if request.text is not None:
        return request.text, SourceType(request.source_type), None
    path = Path(request.path or "")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise KnowledgeInputError(
            f"cannot read {path}: {error}; give a UTF-8 text or markdown file the worker can "
            "read, or send the text inline"
        ) from error
    kind = SourceType.MARKDOWN if path.suffix.lower() in {".md", ".markdown"} else SourceType.FILE
    return text, kind, str(path)


#: ``on_progress(embedded, total)``: how many of the document's chunks are embedded, the slow
#: part of an ingest. Called with 0 once the document is chunked, then after each batch.
IngestProgress = Callable[[int, int], None]


def ingest(
    engine: sa.Engine,
    settings: Settings,
    gateway: LLMGateway,
    request: IngestKnowledgeRequest,
    *,
    on_progress: IngestProgress | None = None,
) -> IngestResult:
    """Chunk, embed and store a document as a tenant's knowledge source; a no-op (no
    ``on_progress`` call) when the tenant already has the same content ready. An inline
    document or metadata over AGENTWORKER_MAX_INPUT_BYTES is refused (``InputTooLarge``)."""
    limit = settings.max_input_bytes
    if request.text is not None:
        check_size(
            request.text,
            limit,
            what=f"document '{request.name}'",
            instead="send a path the worker can read instead of the text inline",
        )
    check_size(request.metadata, limit, what="metadata", instead="keep large data out of metadata")
    text, kind, uri = read_document(request)
    if not text.strip():
        raise KnowledgeInputError(f"document '{request.name}' is empty")
    size = request.chunk_size or settings.chunk_size
    overlap = (
        request.chunk_overlap
        if request.chunk_overlap is not None
        else min(settings.chunk_overlap, size // 2)
    )
    pieces = chunk_text(text, size, overlap)
    digest = hashlib.sha256(text.encode()).hexdigest()
    with engine.begin() as connection:
        tenant_id = resolve_tenant(connection, request.tenant)
        embed = embedder_for(connection, settings, gateway, tenant_id)
        source = insert_once(
            connection,
            _sources,
            {
                "tenant_id": tenant_id,
                "name": request.name,
                "source_type": kind,
                "uri": uri,
                "content_hash": digest,
                "chunk_size": size,
                "chunk_overlap": overlap,
                "embedding_model": embed.model,
                "metadata": scrub(request.metadata),
            },
            key=("tenant_id", "content_hash"),
            returning=(_sources.c.id, _sources.c.status, _sources.c.chunk_count),
        )
    if not source.created and source.row.status == SourceStatus.READY:
        return IngestResult(source.row.id, False, source.row.chunk_count)
    source_id = source.row.id  # new, or an earlier ingest stopped half-way: redo it
    vectors = _embed_all(embed, pieces, settings.embedding_batch_size, on_progress)
    with tenant_scope(tenant_id), engine.begin() as connection:
        connection.execute(sa.delete(_chunks).where(_chunks.c.source_id == source_id))
        connection.execute(
            sa.insert(_chunks),
            [
                {
                    "tenant_id": tenant_id,
                    "source_id": source_id,
                    "chunk_index": i,
                    "content": piece,
                    "token_count": len(piece.split()),
                    "embedding": vector,
                }
                for i, (piece, vector) in enumerate(zip(pieces, vectors, strict=True))
            ],
        )
        KNOWLEDGE_SOURCE.apply(
            connection,
            source_id,
            SourceStatus.READY,
            values={"chunk_count": len(pieces), "error": None},
        )
    return IngestResult(source_id, True, len(pieces))


def _embed_all(
    embed: Embedder, pieces: list[str], batch_size: int, on_progress: IngestProgress | None
) -> list[list[float]]:
    vectors: list[list[float]] = []
    if on_progress is not None:
        on_progress(0, len(pieces))
    for start in range(0, len(pieces), batch_size):
        vectors.extend(embed(pieces[start : start + batch_size]))
        if on_progress is not None:
            on_progress(len(vectors), len(pieces))
    return vectors


def search(
    engine: sa.Engine,
    embed: Callable[[list[str]], list[list[float]]],
    tenant_id: uuid.UUID,
    query: str,
    k: int = 5,
) -> list[Hit]:
    """The tenant's ``k`` chunks nearest to ``query``. The query is embedded (an HTTP call)
    before a connection is taken: none is held while the provider answers."""
    if not query.strip():
        raise KnowledgeInputError("the search query is empty")
    vector = embed([query])[0]
    with tenant_scope(tenant_id), engine.begin() as connection:
        return _nearest(connection, tenant_id, vector, k)


def _nearest(
    connection: sa.Connection, tenant_id: uuid.UUID, vector: list[float], k: int
) -> list[Hit]:
    distance = _chunks.c.embedding.cosine_distance(vector)
    connection.execute(sa.text("SET LOCAL hnsw.iterative_scan = strict_order"))
    rows = connection.execute(
        sa.select(
            _chunks.c.id,
            _chunks.c.source_id,
            _sources.c.name,
            _chunks.c.chunk_index,
            _chunks.c.content,
            distance.label("distance"),
        )
        .join(_sources, _sources.c.id == _chunks.c.source_id)
        .where(_chunks.c.tenant_id == tenant_id)
        .order_by(distance)
        .limit(k)
    ).all()
    return [
        Hit(r.id, r.source_id, r.name, r.chunk_index, r.content, round(1 - float(r.distance), 6))
        for r in rows
    ]
