"""Size limits on every entry point (issue 12, item 7): one setting,
AGENTWORKER_MAX_INPUT_BYTES, bounds a task's input and metadata, a workflow's input and an
inline knowledge document; approvals.resolve's comment has its contract's bound. Too large is
refused before anything is stored, and recorded where the sender can read it without keeping
the oversized content."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from tests.support.agents import add_agent, ensure_tenant
from tests.support.publisher import RecordingPublisher
from tests.support.workflows import add_workflow
from worker.agents.knowledge import ingest
from worker.agents.runtime import Runtime, build_runtime
from worker.app.handlers import handle_resolve_approval, handle_run_task, handle_start_workflow
from worker.client import AgentWorkerClient
from worker.core.contract import IngestKnowledgeRequest, InvalidPayload
from worker.core.limits import InputTooLarge
from worker.core.settings import Settings
from worker.llm.gateway import LLMGateway

LIMIT = 1000
BIG = "x" * (LIMIT + 1)


@pytest.fixture
def runtime(database_url: str) -> Iterator[Runtime]:
    settings = Settings(database_url=database_url, max_input_bytes=LIMIT)
    runtime = build_runtime(settings, RecordingPublisher(), heartbeat=False)
    try:
        yield runtime
    finally:
        runtime.close()


def _one(engine: sa.Engine, sql: str) -> sa.Row[Any]:
    with engine.connect() as connection:
        return connection.execute(sa.text(sql)).one()


@pytest.mark.parametrize(
    ("fields", "what"),
    [({"input": BIG}, "input is"), ({"input": "hi", "metadata": {"blob": BIG}}, "metadata is")],
    ids=["input", "metadata"],
)
def test_a_run_task_over_the_limit_fails_readably_without_keeping_the_content(
    runtime: Runtime, fields: dict[str, Any], what: str
) -> None:
    add_agent(runtime.engine, "helper")

    outcome = handle_run_task(runtime, {"tenant": "acme", "agent": "helper", **fields}, "m-1")

    assert outcome.status == "failed"
    task = _one(runtime.engine, "SELECT status, error_code, error, input_payload FROM tasks")
    assert (task.status, task.error_code) == ("FAILED", "input_too_large")
    assert what in task.error and f"the limit is {LIMIT}" in task.error
    assert BIG not in str(task.input_payload)
    assert "too large to keep" in task.input_payload["omitted"]


def test_a_workflow_start_over_the_limit_is_logged_without_its_input(runtime: Runtime) -> None:
    add_agent(runtime.engine, "helper")
    add_workflow(runtime.engine, "review", [{"key": "draft", "kind": "agent", "agent": "helper"}])

    answer = handle_start_workflow(
        runtime, {"tenant": "acme", "workflow": "review", "input": {"brief": BIG}}, "m-2"
    )

    assert answer["status"] == "rejected"
    assert "workflow input is" in answer["error"] and f"the limit is {LIMIT}" in answer["error"]
    row = _one(runtime.engine, "SELECT error_type, error_context FROM ai_error_logs")
    assert row.error_type == "workflow_start.input_too_large"
    assert BIG not in str(row.error_context)
    assert _one(runtime.engine, "SELECT count(*) AS n FROM ai_workflow_executions").n == 0


def test_the_client_refuses_a_workflow_input_over_the_limit(runtime: Runtime) -> None:
    add_agent(runtime.engine, "helper")
    add_workflow(runtime.engine, "review", [{"key": "draft", "kind": "agent", "agent": "helper"}])
    client = AgentWorkerClient(
        runtime.engine, RecordingPublisher(), runtime.settings, tenant="acme"
    )

    with pytest.raises(InputTooLarge, match="AGENTWORKER_MAX_INPUT_BYTES"):
        client.start_workflow(workflow="review", input={"brief": BIG})


def test_an_inline_knowledge_document_over_the_limit_is_refused(runtime: Runtime) -> None:
    ensure_tenant(runtime.engine)
    request = IngestKnowledgeRequest(tenant="acme", name="brief", text=BIG)

    with pytest.raises(InputTooLarge, match="send a path the worker can read"):
        ingest(runtime.engine, runtime.settings, LLMGateway(runtime.settings), request)
    assert _one(runtime.engine, "SELECT count(*) AS n FROM knowledge_sources").n == 0


def test_an_approval_comment_over_its_bound_is_refused(runtime: Runtime) -> None:
    payload = {
        "approval_id": str(uuid.uuid4()),
        "decision": "approve",
        "user": "a@acme.test",
        "comment": "x" * 5001,
    }
    with pytest.raises(InvalidPayload, match="field 'comment'"):
        handle_resolve_approval(runtime, payload, "m-3")
