"""The worker's consumer, which also keeps a message whose body cannot even be decoded (JSON
nested too deep, not JSON at all) as a dead letter before Celery acks and drops it."""

from __future__ import annotations

from typing import Any

from celery.worker.consumer import Consumer

from worker.app.dead_letters import record_dead_letter


class RecordingConsumer(Consumer):  # type: ignore[misc]
    def on_decode_error(self, message: Any, exc: Exception) -> None:
        headers = getattr(message, "headers", None) or {}
        body = getattr(message, "body", b"")
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else str(body)
        record_dead_letter(
            task=str(headers.get("task", "?")),
            message_id=headers.get("id"),
            args=None,
            kwargs={"undecodable_body": text},
            kind="undecodable",
            error=f"{type(exc).__name__}: {exc}",
        )
        super().on_decode_error(message, exc)
