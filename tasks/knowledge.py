"""``knowledge.ingest``: add a document to a tenant's knowledge base."""

from __future__ import annotations

from typing import Any

from celery import Task

from worker.app import app
from worker.app.handlers import handle_ingest_knowledge
from worker.app.process import process_runtime
from worker.app.scoping import message_scope


@app.task(name="knowledge.ingest", bind=True, acks_late=True)
def ingest_document(self: Task, **payload: Any) -> dict[str, Any]:
    runtime = process_runtime()
    with message_scope(runtime.engine, "knowledge.ingest", payload):
        return handle_ingest_knowledge(runtime, payload, self.request.id)
