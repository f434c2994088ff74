"""A ``workflows.start`` that cannot be accepted is kept in ai_error_logs, never dropped."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from tests.support.agents import ensure_tenant
from tests.support.publisher import RecordingPublisher
from worker.agents.runtime import Runtime, build_runtime
from worker.app.handlers import handle_start_workflow
from worker.core.settings import Settings


@pytest.fixture
def runtime(database_url: str) -> Iterator[Runtime]:
    runtime = build_runtime(
        Settings(database_url=database_url), RecordingPublisher(), heartbeat=False
    )
    try:
        yield runtime
    finally:
        runtime.close()


def _error_logs(engine: sa.Engine) -> list[sa.Row[Any]]:
    with engine.connect() as connection:
        return list(
            connection.execute(
                sa.text(
                    "SELECT tenant_id, error_type, error_message, error_context FROM ai_error_logs"
                )
            )
        )


def test_an_unknown_workflow_is_logged_against_its_tenant(runtime: Runtime) -> None:
    tenant_id = ensure_tenant(runtime.engine)

    answer = handle_start_workflow(
        runtime,
        {"tenant": "acme", "workflow": "nope", "api_key": "sk-test-" + "x1" * 12},
        "message-1",
    )

    assert answer["status"] == "rejected"
    (row,) = _error_logs(runtime.engine)
    assert row.tenant_id == tenant_id
    assert row.error_type == "workflow_start.invalid_payload"  # api_key is not in the contract
    assert row.error_context["payload"]["api_key"] == "[REDACTED]"
    assert row.error_context["broker_message_id"] == "message-1"


def test_a_payload_naming_no_tenant_is_logged_without_one(runtime: Runtime) -> None:
    answer = handle_start_workflow(runtime, {"workflow": "x"}, "message-2")

    assert answer["status"] == "rejected"
    (row,) = _error_logs(runtime.engine)
    assert row.tenant_id is None
    assert "field 'tenant' is required" in row.error_message
