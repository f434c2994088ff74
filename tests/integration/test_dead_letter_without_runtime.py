"""A message that failed because the worker's runtime cannot be built (an import that fails)
is still kept as a dead letter: recording it must not need that runtime. It was acked and kept
nowhere (``make chaos``: "lost: foreign job chaos-120: no task row", a tool module missing)."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from worker.app import dead_letters
from worker.core.settings import get_settings


def test_a_dead_letter_is_kept_when_the_runtime_cannot_be_built(
    engine: sa.Engine, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_runtime() -> Any:
        raise ModuleNotFoundError("No module named 'worker.agents.tools.preferences'")

    monkeypatch.setattr("worker.app.process.process_runtime", broken_runtime)
    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    dead_letters._standalone_engine.cache_clear()
    try:
        dead_letters.record_dead_letter(
            task="agents.run_task",
            message_id="message-without-runtime",
            args=(),
            kwargs={"tenant": "acme", "agent": "courier", "idempotency_key": "chaos-120"},
            kind="failed",
            error="ModuleNotFoundError: No module named 'worker.agents.tools.preferences'",
        )
    finally:
        dead_letters._standalone_engine().dispose()
        dead_letters._standalone_engine.cache_clear()
        get_settings.cache_clear()
    with engine.connect() as connection:
        kept = connection.execute(
            sa.text(
                "SELECT count(*) FROM ai_error_logs "
                "WHERE error_context->>'broker_message_id' = 'message-without-runtime'"
            )
        ).scalar()
    assert kept == 1
