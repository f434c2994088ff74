"""``knowledge.ingest``: add a document to a tenant's knowledge base."""

from __future__ import annotations

from typing import Any

from worker.agents.knowledge import ingest
from worker.app import app
from worker.app.process import process_runtime
from worker.core.contract import IngestKnowledgeRequest, parse_payload


@app.task(name="knowledge.ingest", acks_late=True)
def ingest_document(**payload: Any) -> dict[str, Any]:
    runtime = process_runtime()
    request = parse_payload(IngestKnowledgeRequest, payload)
    result = ingest(
        runtime.engine,
        runtime.settings,
        runtime.gateway,
        request,
    )
    return {"source_id": str(result.source_id), "created": result.created, "chunks": result.chunks}
