"""Traces (worker.core.tracing): one trace from a client's submit through the broker, our
worker's Celery task, each agent step, the LLM call and the tool call, in the GenAI
conventions; no prompt text unless content capture is asked for; a foreign ``send_task``
with a ``traceparent`` header joins its caller's trace; a resumed run links to the span that
parked it for a person; and off, nothing of it exists.

Real parts: PostgreSQL, Redis as the broker, the local LLM server over HTTP and our worker
(its app, tasks and hooks) in this process, so that one in-memory exporter sees both sides.
"""

from __future__ import annotations

import gc
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from celery import Celery
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from models import ExecutionStatus, TaskStatus
from models.db import create_sync_engine
from tests.support.agents import add_agent
from tests.support.people import add_member
from tests.support.stack import wait_until
from tests.support.worker_here import worker_here
from tests.support.workflows import add_workflow, approval_gate
from worker.client import AgentWorkerClient, TaskView
from worker.core import tracing
from worker.core.database_roles import ensure_runtime_login
from worker.core.settings import Settings
from worker.dev.llm_server import LocalLLMServer
from worker.durable.publishing import CeleryPublisher, publishing_app

TERMINAL = {TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELLED}


@pytest.fixture
def llm() -> Iterator[LocalLLMServer]:
    with LocalLLMServer() as server:
        yield server


@pytest.fixture
def client(database_url: str, broker_url: str, llm: LocalLLMServer) -> Iterator[AgentWorkerClient]:
    app = publishing_app(broker_url)
    settings = Settings(database_url=database_url, openai_base_url=llm.base_url, local_llm=True)
    client = AgentWorkerClient(
        create_sync_engine(database_url),
        CeleryPublisher(app),
        settings,
        tenant="acme",
    )
    try:
        yield client
    finally:
        client.close()
        app.close()


@pytest.fixture
def exporter() -> Iterator[InMemorySpanExporter]:
    yield from _tracing(content=False)


@pytest.fixture
def content_exporter() -> Iterator[InMemorySpanExporter]:
    yield from _tracing(content=True)


def _tracing(*, content: bool) -> Iterator[InMemorySpanExporter]:
    memory = InMemorySpanExporter()
    assert tracing.configure(Settings(trace_content=content), exporter=memory)
    try:
        yield memory
    finally:
        tracing.shutdown()


@pytest.fixture
def worker(
    monkeypatch: pytest.MonkeyPatch, database_url: str, broker_url: str, llm: LocalLLMServer
) -> Iterator[None]:
    with worker_here(
        monkeypatch,
        runtime_database_url=ensure_runtime_login(database_url),
        broker_url=broker_url,
        llm_base_url=llm.base_url,
    ):
        yield


def _wait(
    client: AgentWorkerClient, task_id: uuid.UUID, statuses: set[TaskStatus] = TERMINAL
) -> TaskView:
    return wait_until(
        lambda: view if (view := client.get_task(task_id)).status in statuses else None,
        timeout=30,
        failure=lambda: f"task {task_id} is {client.get_task(task_id).status}",
    )


def _spans(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    tracing.flush()
    return list(exporter.get_finished_spans())


def _named(spans: list[ReadableSpan], prefix: str) -> list[ReadableSpan]:
    return [span for span in spans if span.name.startswith(prefix)]


def _texts(span: ReadableSpan) -> list[str]:
    """Every string a span carries: attributes, events' and links' attributes, its name."""
    values: list[Any] = [span.name, *span.attributes.values()]
    for event in span.events:
        values += [event.name, *event.attributes.values()]
    for link in span.links:
        values += list((link.attributes or {}).values())
    flat: list[str] = []
    for value in values:
        flat += [str(v) for v in value] if isinstance(value, tuple | list) else [str(value)]
    return flat


def _submit_and_finish(
    client: AgentWorkerClient, engine: sa.Engine, prompt: str
) -> tuple[uuid.UUID, str]:
    name = f"traced-{uuid.uuid4().hex[:6]}"
    model = add_agent(engine, name, tools=["current_time"])
    task_id = client.submit(agent=name, input=prompt)
    assert _wait(client, task_id).status == TaskStatus.SUCCEEDED
    return task_id, model


def test_one_trace_from_submit_to_result_with_genai_attributes_and_no_prompt(
    exporter: InMemorySpanExporter, worker: None, client: AgentWorkerClient, engine: sa.Engine
) -> None:
    prompt = f"find a venue for the offsite {uuid.uuid4().hex}"
    task_id, model = _submit_and_finish(client, engine, prompt)

    spans = wait_until(
        lambda: s if _named(s := _spans(exporter), "run/") else None,
        timeout=10,
        failure=lambda: f"no task span among {[s.name for s in _spans(exporter)]}",
    )
    (submit,) = _named(spans, "submit agents.run_task")
    assert {span.context.trace_id for span in spans} == {submit.context.trace_id}, [
        (span.name, span.context.trace_id) for span in spans
    ]
    assert submit.parent is None and submit.attributes["agentworker.task.id"] == str(task_id)
    (send,) = _named(spans, "send agents.run_task")
    assert send.kind == SpanKind.PRODUCER and send.parent.span_id == submit.context.span_id
    (task,) = _named(spans, "run/agents.run_task")  # opentelemetry-instrumentation-celery
    assert task.kind == SpanKind.CONSUMER and task.parent.span_id == send.context.span_id
    (agent,) = _named(spans, "invoke_agent ")
    assert agent.parent.span_id == task.context.span_id
    steps = _named(spans, "agent_step ")
    assert [s.attributes["agentworker.step.kind"] for s in steps] == [
        "call_model",
        "run_tools",
        "call_model",
    ]
    assert {s.parent.span_id for s in steps} == {agent.context.span_id}

    chats = _named(spans, f"chat {model}")
    assert len(chats) == 2 and {c.parent.span_id for c in chats} <= {
        s.context.span_id for s in steps
    }
    first = chats[0].attributes
    assert first["gen_ai.operation.name"] == "chat"
    assert first["gen_ai.provider.name"] == first["gen_ai.system"] == "openai"
    assert first["gen_ai.request.model"] == model
    assert first["gen_ai.response.model"]
    assert first["gen_ai.usage.input_tokens"] > 0 and first["gen_ai.usage.output_tokens"] > 0
    assert first["gen_ai.response.finish_reasons"] == ("tool_calls",)
    assert chats[0].kind == SpanKind.CLIENT

    (tool,) = _named(spans, "execute_tool current_time")
    assert tool.attributes["gen_ai.tool.name"] == "current_time"
    assert tool.attributes["gen_ai.tool.call.id"]
    assert tool.attributes["gen_ai.operation.name"] == "execute_tool"
    assert tool.attributes["agentworker.tool.status"] == "success"

    for span in spans:
        assert not any(prompt in text for text in _texts(span)), span.name
        assert not any("You help." in text for text in _texts(span)), span.name


def test_with_content_capture_the_prompt_is_in_the_llm_span(
    content_exporter: InMemorySpanExporter,
    worker: None,
    client: AgentWorkerClient,
    engine: sa.Engine,
) -> None:
    prompt = f"find a venue for the offsite {uuid.uuid4().hex}"
    _task_id, model = _submit_and_finish(client, engine, prompt)

    spans = _spans(content_exporter)
    first = _named(spans, f"chat {model}")[0]
    assert prompt in first.attributes["gen_ai.input.messages"]
    assert "gen_ai.output.messages" in first.attributes
    (tool,) = _named(spans, "execute_tool current_time")
    assert "gen_ai.tool.call.result" in tool.attributes


def test_a_foreign_send_task_with_a_traceparent_joins_the_callers_trace(
    exporter: InMemorySpanExporter,
    worker: None,
    client: AgentWorkerClient,
    engine: sa.Engine,
    broker_url: str,
) -> None:
    name = f"traced-{uuid.uuid4().hex[:6]}"
    add_agent(engine, name, tools=["current_time"])
    trace_id, span_id = uuid.uuid4().int, uuid.uuid4().int >> 64
    foreign = Celery(broker=broker_url)  # only Celery, nothing of ours
    try:
        foreign.send_task(
            "agents.run_task",
            kwargs={"tenant": "acme", "agent": name, "input": "hello", "idempotency_key": name},
            queue="agents",
            headers={"traceparent": f"00-{trace_id:032x}-{span_id:016x}-01"},
        )
    finally:
        foreign.close()
    with engine.connect() as connection:
        task_id = wait_until(
            lambda: connection.execute(
                sa.text("SELECT id FROM tasks WHERE idempotency_key = :k"), {"k": name}
            ).scalar(),
            timeout=30,
            failure=lambda: "the foreign job made no task",
        )
    assert _wait(client, task_id).status == TaskStatus.SUCCEEDED

    (task,) = wait_until(
        lambda: _named(_spans(exporter), "run/agents.run_task") or None,
        timeout=10,
        failure=lambda: "no task span",
    )
    assert task.context.trace_id == trace_id
    assert task.parent is not None and task.parent.span_id == span_id
    chats = [s for s in _spans(exporter) if s.name.startswith("chat ")]
    assert chats and {c.context.trace_id for c in chats} == {trace_id}


def test_a_run_resumed_after_a_decision_links_to_the_span_that_parked_it(
    exporter: InMemorySpanExporter, worker: None, client: AgentWorkerClient, engine: sa.Engine
) -> None:
    name = f"mailer-{uuid.uuid4().hex[:6]}"
    add_agent(engine, name, tools=["send_email"])
    add_member(engine, "acme", "rita@acme.test", "approver")
    task_id = client.submit(agent=name, input="Tell the venue")
    _wait(client, task_id, {TaskStatus.AWAITING_APPROVAL})
    (approval,) = client.approvals()
    client.resolve_approval(approval.id, "approve", user="rita@acme.test", digest=approval.digest)
    assert _wait(client, task_id).status in TERMINAL

    spans = _spans(exporter)
    tool_steps = _named(spans, "agent_step run_tools")
    parked, resumed = tool_steps[0], tool_steps[-1]
    assert parked.attributes["agentworker.handed_back"] == "AwaitingApproval"
    (link,) = resumed.links
    assert link.context.span_id == parked.context.span_id
    assert link.context.trace_id == parked.context.trace_id
    assert link.attributes["agentworker.link"] == "approval_wait"
    assert _named(spans, "execute_tool send_email")


def test_a_workflow_resumed_after_its_gate_links_to_the_advance_that_parked_it(
    exporter: InMemorySpanExporter, worker: None, client: AgentWorkerClient, engine: sa.Engine
) -> None:
    add_member(engine, "acme", "rita@acme.test", "approver")
    add_agent(engine, "helper")
    flow = f"flow-{uuid.uuid4().hex[:6]}"
    add_workflow(
        engine,
        flow,
        [
            {"key": "draft", "kind": "agent", "agent": "helper", "input": "draft it"},
            approval_gate(),
            {"key": "publish", "kind": "agent", "agent": "helper", "input": "publish it"},
        ],
    )
    execution_id = client.start_workflow(workflow=flow)
    wait_until(
        lambda: client.approvals() or None, timeout=30, failure=lambda: "the gate never asked"
    )
    (approval,) = client.approvals()
    client.resolve_approval(approval.id, "approve", user="rita@acme.test")
    wait_until(
        lambda: client.get_execution(execution_id).status == ExecutionStatus.COMPLETED or None,
        timeout=30,
        failure=lambda: f"the execution is {client.get_execution(execution_id).status}",
    )

    advances = _named(_spans(exporter), "invoke_workflow ")
    (resumed,) = [s for s in advances if s.links]  # the advance that found the decision
    (link,) = resumed.links
    assert link.attributes["agentworker.link"] == "approval_wait"
    assert link.attributes["agentworker.workflow.step"] == "gate"
    (parked,) = [s for s in advances if s.context.span_id == link.context.span_id]
    assert parked.context.trace_id == link.context.trace_id
    assert parked.end_time <= resumed.start_time


def test_tracing_off_makes_no_spans_and_no_tracer_provider(
    worker: None, client: AgentWorkerClient, engine: sa.Engine
) -> None:
    """Off is the default: the worker, the client and a run's every step leave OpenTelemetry
    untouched (no provider of ours, none made at all, nothing hooked)."""
    providers = _providers()
    _submit_and_finish(client, engine, "find a venue")

    assert tracing.ENABLED is False and tracing._provider is None
    assert _providers() == providers
    from opentelemetry import trace

    assert not isinstance(trace.get_tracer_provider(), TracerProvider)


def _providers() -> int:
    return sum(1 for thing in gc.get_objects() if isinstance(thing, TracerProvider))
