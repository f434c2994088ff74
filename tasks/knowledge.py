"""``knowledge.ingest``: add a document to a tenant's knowledge base."""

from __future__ import annotations

from typing import Any

from worker.app import app
from worker.contract import IngestKnowledgeRequest, parse_payload
from worker.knowledge import ingest
from worker.runtime import process_runtime


@app.task(name="knowledge.ingest", acks_late=True)
def ingest_document(**payload: Any) -> dict[str, Any]:
    runtime = process_runtime()
    request = parse_payload(IngestKnowledgeRequest, payload)
    result = ingest(
        runtime.engine,
        runtime.settings,
        runtime.gateway,
        request,
        local_base_url=runtime.local_llm_url,
    )
    return {"source_id": str(result.source_id), "created": result.created, "chunks": result.chunks}
