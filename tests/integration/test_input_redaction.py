"""A submission's input is redacted before it is stored (issue 12, item 6): values that look
secret (``worker.security.redact``: secret-looking keys, credential shapes) reach no row (not
``tasks.title``, ``input_prompt``, ``input_payload``, nor the run's messages or result), whether
the task runs, is rejected, or is a workflow's input; secret references are kept."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from tests.support.agents import add_agent, ensure_tenant
from tests.support.publisher import RecordingPublisher
from tests.support.row_scan import assert_in_no_row
from tests.support.workflows import add_workflow
from worker.agents.runtime import Runtime, build_runtime
from worker.app.handlers import handle_run_task, handle_start_workflow
from worker.core.settings import Settings
from worker.dev.llm_server import LocalLLMServer

API_KEY = "sk-" + uuid.uuid4().hex  # an OpenAI-shaped key, in free text
PASSWORD = "pw-" + uuid.uuid4().hex  # under a secret-looking key


@pytest.fixture
def runtime(database_url: str) -> Iterator[Runtime]:
    with LocalLLMServer() as llm:
        settings = Settings(database_url=database_url, openai_base_url=llm.base_url)
        runtime = build_runtime(settings, RecordingPublisher(), heartbeat=False)
        try:
            yield runtime
        finally:
            runtime.close()


def _assert_no_secret_stored(engine: sa.Engine) -> None:
    assert_in_no_row(engine, API_KEY)
    assert_in_no_row(engine, PASSWORD)


def test_a_run_tasks_text_input_is_stored_and_run_redacted(runtime: Runtime) -> None:
    add_agent(runtime.engine, "helper")

    outcome = handle_run_task(
        runtime,
        {
            "tenant": "acme",
            "agent": "helper",
            "input": f"log in with {API_KEY} password={PASSWORD}",
        },
        "message-1",
    )

    assert outcome.status == "succeeded", outcome.detail
    with runtime.engine.connect() as connection:
        prompt = connection.execute(sa.text("SELECT input_prompt FROM tasks")).scalar_one()
    assert prompt == "log in with [REDACTED] password=[REDACTED]"
    _assert_no_secret_stored(runtime.engine)


def test_a_json_input_keeps_its_references_and_loses_its_secrets(runtime: Runtime) -> None:
    add_agent(runtime.engine, "helper")

    outcome = handle_run_task(
        runtime,
        {
            "tenant": "acme",
            "agent": "helper",
            "input": {
                "note": f"key {API_KEY}",
                "password": PASSWORD,
                "crm": {"$secret": "tenant:crm"},
            },
        },
        "message-2",
    )

    assert outcome.status == "succeeded", outcome.detail
    with runtime.engine.connect() as connection:
        payload = connection.execute(sa.text("SELECT input_payload FROM tasks")).scalar_one()
    assert payload["input"] == {
        "note": "key [REDACTED]",
        "password": "[REDACTED]",
        "crm": {"$secret": "tenant:crm"},
    }
    _assert_no_secret_stored(runtime.engine)


def test_a_rejected_submission_is_kept_redacted(runtime: Runtime) -> None:
    ensure_tenant(runtime.engine)

    outcome = handle_run_task(
        runtime,
        {"tenant": "acme", "agent": "nobody", "input": f"{API_KEY} password: {PASSWORD}"},
        "message-3",
    )

    assert outcome.status == "failed"
    with runtime.engine.connect() as connection:
        title = connection.execute(sa.text("SELECT title FROM tasks")).scalar_one()
    assert title == "[REDACTED] password: [REDACTED]"
    _assert_no_secret_stored(runtime.engine)


def test_a_workflows_input_is_stored_redacted(runtime: Runtime) -> None:
    add_agent(runtime.engine, "helper")
    add_workflow(runtime.engine, "review", [{"key": "draft", "kind": "agent", "agent": "helper"}])

    answer = handle_start_workflow(
        runtime,
        {
            "tenant": "acme",
            "workflow": "review",
            "input": {"brief": f"use {API_KEY}", "password": PASSWORD},
        },
        "message-4",
    )

    assert "execution_id" in answer, answer
    _assert_no_secret_stored(runtime.engine)
