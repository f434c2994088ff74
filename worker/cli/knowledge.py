"""``agentworker knowledge ingest | search``: run in this process, no worker needed.

``ingest`` shows a progress bar on stderr while the chunks are embedded (the slow part) when
stderr is a terminal, and one line ("embedding N chunks of 'name'") when it is not, so stdout
stays clean for scripts and ``--json``.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TextIO

import click
import sqlalchemy as sa

from models.db import create_sync_engine
from worker.agents.knowledge import embedder_for, ingest, search
from worker.cli.output import as_json, table
from worker.core.contract import IngestKnowledgeRequest, parse_payload
from worker.core.settings import Settings, get_settings
from worker.core.tenants import resolve_tenant
from worker.llm.gateway import LLMGateway


@click.group()
def knowledge() -> None:
    """A tenant's knowledge base (retrieval for the search_knowledge tool)."""


@dataclass
class _Services:
    settings: Settings
    engine: sa.Engine
    gateway: LLMGateway


@contextmanager
def _services() -> Iterator[_Services]:
    settings = get_settings()
    services = _Services(settings, create_sync_engine(settings.database_url), LLMGateway(settings))
    try:
        yield services
    finally:
        services.gateway.close()
        services.engine.dispose()


@knowledge.command("ingest")
@click.option("--tenant", required=True)
@click.option("--name", required=True, help="A name for the document.")
@click.option("--file", "path", type=click.Path(exists=True, dir_okay=False))
@click.option("--text", help="The document inline.")
@click.option("--chunk-size", type=int)
@click.option("--chunk-overlap", type=int)
@click.option("--json", "as_json_output", is_flag=True)
def ingest_command(
    tenant: str,
    name: str,
    path: str | None,
    text: str | None,
    chunk_size: int | None,
    chunk_overlap: int | None,
    as_json_output: bool,
) -> None:
    """Chunk, embed and store a document (a no-op if the same content is already there)."""
    fields = {
        "tenant": tenant,
        "name": name,
        "path": path,
        "text": text,
        "source_type": "markdown" if path and path.endswith(".md") else "text",
        "chunk_size": chunk_size,
        "chunk_overlap": chunk_overlap,
    }
    request = parse_payload(
        IngestKnowledgeRequest, {k: v for k, v in fields.items() if v is not None}
    )
    with _services() as services, EmbeddingProgress(name) as progress:
        result = ingest(
            services.engine,
            services.settings,
            services.gateway,
            request,
            on_progress=progress,
        )
    if as_json_output:
        click.echo(as_json(result))
    elif result.created:
        click.echo(f"ingested '{name}': {result.chunks} chunks (source {result.source_id})")
    else:
        click.echo(f"'{name}' has the same content as source {result.source_id}: nothing to do")


class EmbeddingProgress:
    """An ``ingest`` ``on_progress`` callback drawn as a ``click.progressbar`` on ``file``
    (stderr by default). The bar is made at the first call, when the number of chunks is
    known; a no-op ingest makes none. Off a terminal, click writes the label once."""

    def __init__(self, name: str, file: TextIO | None = None) -> None:
        self._name = name
        self._file = file
        self._bar: Any = None  # click's ProgressBar (a private class)
        self._embedded = 0

    def __call__(self, embedded: int, total: int) -> None:
        if self._bar is None:
            file = self._file if self._file is not None else sys.stderr
            self._bar = click.progressbar(
                length=total,
                label=f"embedding {total} chunks of '{self._name}'",
                show_pos=True,
                file=file,
            )
            self._bar.__enter__()
        self._bar.update(embedded - self._embedded)
        self._embedded = embedded

    def __enter__(self) -> EmbeddingProgress:
        return self

    def __exit__(self, *_: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)


@knowledge.command("search")
@click.option("--tenant", required=True)
@click.option("-k", "k", type=click.IntRange(1, 50), default=5, show_default=True)
@click.option("--json", "as_json_output", is_flag=True)
@click.argument("query")
def search_command(tenant: str, k: int, as_json_output: bool, query: str) -> None:
    """The tenant's passages nearest to QUERY, best first."""
    with _services() as services:
        with services.engine.begin() as connection:
            tenant_id = resolve_tenant(connection, tenant)
            embed = embedder_for(connection, services.settings, services.gateway, tenant_id)
        hits = search(services.engine, embed, tenant_id, query, k)
    if as_json_output:
        click.echo(as_json(hits))
        return
    click.echo(
        table(
            [
                (
                    f"{h.score:.3f}",
                    h.source_name,
                    h.chunk_index,
                    h.content[:90] + ("…" if len(h.content) > 90 else ""),
                )
                for h in hits
            ],
            ["score", "source", "chunk", "passage"],
        )
    )
