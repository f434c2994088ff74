"""Runs driven in the test's own process, for tests that read what runs leave behind (the
timeline, the run pages): a real runtime over the test's database and the local LLM server,
tasks executed with ``execute_task``, and a gated workflow moved by its engine."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

import sqlalchemy as sa

from tests.support.agents import add_agent
from tests.support.people import add_member
from tests.support.publisher import RecordingPublisher
from tests.support.workflows import add_workflow, approval_gate
from worker.agents.runner import execute_task
from worker.agents.runtime import Runtime, build_runtime
from worker.agents.submission import create_task
from worker.agents.tools import ToolRegistry
from worker.approvals import cli_principal, resolve
from worker.core.contract import RunTaskRequest
from worker.core.settings import Settings
from worker.dev.llm_server import LocalLLMServer
from worker.workflows.catalog import start_execution
from worker.workflows.engine import advance

#: The gated workflow's steps, in the order they run.
GATED_STEPS = ("draft", "gate", "publish")


@contextmanager
def local_runtime(
    database_url: str, tools: ToolRegistry | None = None
) -> Iterator[tuple[Runtime, LocalLLMServer]]:
    """A runtime whose LLM calls go to a local server (fast retries, a price for every
    ``model-…`` model, so runs cost something)."""
    with LocalLLMServer() as llm:
        settings = Settings(
            database_url=database_url,
            openai_base_url=llm.base_url,
            llm_backoff_initial_seconds=0.05,
            llm_backoff_max_seconds=0.1,
            prices={"model-": (Decimal("0.15"), Decimal("0.6"))},
        )
        runtime = build_runtime(settings, RecordingPublisher(), tools=tools)
        try:
            yield runtime, llm
        finally:
            runtime.close()


def submit(engine: sa.Engine, agent: str, prompt: str = "find a venue") -> uuid.UUID:
    with engine.begin() as connection:
        return create_task(
            connection,
            Settings(),
            RunTaskRequest(tenant="acme", agent=agent, input=prompt),
            idempotency_key=None,
        ).task_id


def spent(engine: sa.Engine, task_id: uuid.UUID) -> tuple[int, Decimal]:
    """The task's tokens and cost as its agent runs recorded them."""
    with engine.connect() as connection:
        row = connection.execute(
            sa.text(
                "SELECT sum(prompt_tokens + completion_tokens) AS tokens, sum(cost) AS cost "
                "FROM agent_runs WHERE task_id = :t"
            ),
            {"t": task_id},
        ).one()
    return int(row.tokens), Decimal(row.cost)


def start_gated_workflow(engine: sa.Engine, approver: str) -> uuid.UUID:
    """An execution of draft (agent) → gate (approval) → publish (agent), not yet moved."""
    add_member(engine, "acme", approver, "approver")
    add_agent(engine, "helper")
    add_workflow(
        engine,
        "flow",
        [
            {"key": "draft", "kind": "agent", "agent": "helper", "input": "draft it"},
            approval_gate(),
            {"key": "publish", "kind": "agent", "agent": "helper", "input": "publish it"},
        ],
    )
    with engine.begin() as connection:
        return start_execution(
            connection, tenant="acme", workflow="flow", input={}, idempotency_key=None
        ).execution_id


def run_step_task(engine: sa.Engine, runtime: Runtime, step: str) -> uuid.UUID:
    with engine.connect() as connection:
        task_id: uuid.UUID = connection.execute(
            sa.text("SELECT id FROM tasks WHERE workflow_step = :s"), {"s": step}
        ).scalar_one()
    execute_task(runtime, task_id)
    return task_id


def run_to_gate(engine: sa.Engine, runtime: Runtime, execution_id: uuid.UUID) -> uuid.UUID:
    """Run the draft step; the execution then waits on its gate. Returns the draft's task."""
    publisher = RecordingPublisher()
    advance(engine, publisher, execution_id)
    task_id = run_step_task(engine, runtime, "draft")
    status = advance(engine, publisher, execution_id)
    assert status == "awaiting_approval", status
    return task_id


def approve_and_finish(
    engine: sa.Engine, runtime: Runtime, execution_id: uuid.UUID, approver: str
) -> uuid.UUID:
    """Approve the gate and run the publish step to the end. Returns the publish task."""
    publisher = RecordingPublisher()
    with engine.connect() as connection:
        approval_id = connection.execute(
            sa.text("SELECT id FROM approvals WHERE workflow_execution_id = :e"),
            {"e": execution_id},
        ).scalar_one()
    resolve(engine, publisher, approval_id, "approve", approver, principal=cli_principal())
    advance(engine, publisher, execution_id)
    task_id = run_step_task(engine, runtime, "publish")
    status = advance(engine, publisher, execution_id)
    assert status == "completed", status
    return task_id
