"""A run's timeline (``worker.ops.timeline``) built from the rows real runs leave: tasks driven
in this process (``execute_task`` with a real runtime, PostgreSQL and the local LLM server),
a workflow moved by its engine, and the timeline read back through the runtime role that
row-level security confines, in the run's tenant scope."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from models.tenant_scope import tenant_scope
from tests.support.agents import add_agent, ensure_tenant
from tests.support.local_llm import admin
from tests.support.people import add_member
from tests.support.runs import (
    approve_and_finish,
    local_runtime,
    run_to_gate,
    spent,
    start_gated_workflow,
    submit,
)
from worker.agents.runner import execute_task
from worker.agents.runtime import Runtime
from worker.agents.tools import ToolContext, ToolRegistry
from worker.approvals import cli_principal, resolve
from worker.dev.llm_server import LocalLLMServer
from worker.ops.timeline import EVENT_LIMIT, Timeline, execution_timeline, task_timeline

LOOKUP_SECONDS = 0.12
APPROVER = "ada@acme.test"


class Harness:
    def __init__(self, runtime: Runtime, llm: LocalLLMServer) -> None:
        self.runtime, self.llm = runtime, llm
        self.engine = runtime.engine


@pytest.fixture
def harness(database_url: str) -> Iterator[Harness]:
    registry = ToolRegistry()

    @registry.tool
    def lookup_venues(context: ToolContext, city: str) -> str:
        """Look up venues in a city."""
        time.sleep(LOOKUP_SECONDS)
        return f"venues in {city}: Centro, Arena"

    @registry.tool
    def count_seats(context: ToolContext, venue: str) -> int:
        """Count a venue's seats."""
        return 600

    @registry.tool(needs_approval=True, side_effects=True)
    def book_venue(context: ToolContext, venue: str) -> str:
        """Book a venue."""
        return f"booked {venue}"

    with local_runtime(database_url, registry) as (runtime, llm):
        yield Harness(runtime, llm)


def _task(harness: Harness, agent: str, prompt: str = "find a venue") -> uuid.UUID:
    return submit(harness.engine, agent, prompt)


def _read(runtime_engine: sa.Engine, tenant: str, read: Any, run_id: uuid.UUID) -> Any:
    """``read(connection, run_id)`` as the runtime role, in ``tenant``'s scope."""
    with runtime_engine.connect() as connection:  # the tenants' directory is open to all
        tenant_id = connection.execute(
            sa.text("SELECT id FROM tenants WHERE slug = :s"), {"s": tenant}
        ).scalar_one()
    with tenant_scope(tenant_id), runtime_engine.connect() as connection:
        return read(connection, run_id)


def _kinds(timeline: Timeline) -> list[str]:
    return [bar.kind for bar in timeline.bars]


def test_a_task_with_a_failed_attempt_and_two_tools_has_a_bar_for_each(
    harness: Harness, runtime_engine: sa.Engine
) -> None:
    model = add_agent(harness.engine, "scout", tools=["lookup_venues", "count_seats"])
    admin(harness.llm, "POST", "/_faults", {"model": model, "faults": [{"status": 500}]})
    task_id = _task(harness, "scout")
    execute_task(harness.runtime, task_id)

    timeline = _read(runtime_engine, "acme", task_timeline, task_id)

    assert timeline.status == "SUCCEEDED" and timeline.final
    assert _kinds(timeline) == ["retry", "llm", "tool", "tool", "llm"]
    retry, ask, lookup, count, answer = timeline.bars
    assert (retry.status, retry.detail) == ("failed", "HTTP 500")
    assert retry.end is not None and retry.end <= ask.start  # the retry came after it failed
    assert [lookup.label, count.label] == ["lookup_venues", "count_seats"]
    assert {lookup.status, count.status} == {"success"}
    assert lookup.end is not None and count.end is not None and answer.end is not None
    assert lookup.end - lookup.start >= timedelta(seconds=LOOKUP_SECONDS)
    assert ask.end is not None and ask.end <= lookup.start <= lookup.end <= count.start
    assert count.end <= answer.start
    assert all(b.tokens and b.tokens > 0 and b.cost and b.cost > 0 for b in (ask, answer))
    assert lookup.tokens is None and lookup.cost is None
    recorded = spent(harness.engine, task_id)
    assert (timeline.tokens, timeline.cost) == recorded
    assert (ask.tokens or 0) + (answer.tokens or 0) == recorded[0]
    assert timeline.start <= retry.start and timeline.end is not None
    assert timeline.end >= answer.end
    types = [e.type for e in timeline.events]
    assert types[0] == "AGENT_START" and types[-1] == "AGENT_COMPLETE"
    assert types.count("LLM_CALL") == 2 and types.count("TOOL_RESULT") == 2
    assert "ERROR" in types  # the failed attempt
    assert timeline.events_total == len(timeline.events)


def test_an_approval_wait_is_an_open_bar_until_it_is_decided(
    harness: Harness, runtime_engine: sa.Engine
) -> None:
    add_member(harness.engine, "acme", APPROVER, "approver")
    add_agent(harness.engine, "booker", tools=["book_venue"])
    task_id = _task(harness, "booker", "book Centro")
    execute_task(harness.runtime, task_id)

    parked = _read(runtime_engine, "acme", task_timeline, task_id)

    assert parked.status == "AWAITING_APPROVAL" and not parked.final
    assert _kinds(parked) == ["llm", "approval"]
    waiting = parked.bars[1]
    assert (waiting.status, waiting.end) == ("waiting", None)
    assert waiting.label == "Let agent 'booker' run tool 'book_venue'?"
    assert parked.end is None

    with harness.engine.connect() as connection:
        approval_id = connection.execute(
            sa.text("SELECT id FROM approvals WHERE task_id = :t"), {"t": task_id}
        ).scalar_one()
    resolve(
        harness.engine,
        harness.runtime.publisher,
        approval_id,
        "approve",
        APPROVER,
        "book it",
        principal=cli_principal(),
    )
    execute_task(harness.runtime, task_id)

    done = _read(runtime_engine, "acme", task_timeline, task_id)

    assert done.final and _kinds(done) == ["llm", "approval", "tool", "llm"]
    _, approved, booked, _ = done.bars
    assert (approved.status, approved.detail) == ("approved", "book it")
    assert approved.approval_id == approval_id
    assert approved.end is not None and approved.end <= booked.start
    assert (booked.label, booked.status) == ("book_venue", "success")


def test_a_running_task_shows_the_call_being_made(
    harness: Harness, runtime_engine: sa.Engine
) -> None:
    add_agent(harness.engine, "slow")
    task_id = _task(harness, "slow")
    with harness.engine.begin() as connection:  # claimed by a worker that is asking the model
        connection.execute(
            sa.text(
                "UPDATE tasks SET status = 'RUNNING', started_at = now() - interval '2 seconds', "
                "lease_owner = 'w1', lease_expires_at = now() + interval '1 minute' "
                "WHERE id = :t"
            ),
            {"t": task_id},
        )

    timeline = _read(runtime_engine, "acme", task_timeline, task_id)

    (bar,) = timeline.bars
    assert (bar.kind, bar.status, bar.end) == ("llm", "running", None)
    assert not timeline.final and timeline.end is None
    assert timeline.as_of - bar.start >= timedelta(seconds=2)


def test_another_tenant_sees_no_timeline(harness: Harness, runtime_engine: sa.Engine) -> None:
    add_agent(harness.engine, "scout")
    ensure_tenant(harness.engine, "globex")
    task_id = _task(harness, "scout")
    execute_task(harness.runtime, task_id)

    assert _read(runtime_engine, "acme", task_timeline, task_id) is not None
    assert _read(runtime_engine, "globex", task_timeline, task_id) is None


def test_an_execution_has_one_bar_per_step_with_its_task_tokens(
    harness: Harness, engine: sa.Engine, runtime_engine: sa.Engine
) -> None:
    execution_id = start_gated_workflow(engine, APPROVER)
    draft_task = run_to_gate(engine, harness.runtime, execution_id)

    waiting = _read(runtime_engine, "acme", execution_timeline, execution_id)
    assert [b.label for b in waiting.bars] == ["draft", "gate"]
    assert waiting.bars[1].status == "awaiting_approval" and waiting.bars[1].end is None
    assert not waiting.final

    publish_task = approve_and_finish(engine, harness.runtime, execution_id, APPROVER)

    timeline = _read(runtime_engine, "acme", execution_timeline, execution_id)

    assert timeline.kind == "execution" and timeline.title == "flow"
    assert timeline.status == "completed" and timeline.final
    assert [(b.kind, b.label, b.status) for b in timeline.bars] == [
        ("step", "draft", "completed"),
        ("step", "gate", "completed"),
        ("step", "publish", "completed"),
    ]
    draft, gate, publish = timeline.bars
    assert (draft.tokens, draft.cost) == spent(engine, draft_task)
    assert (publish.tokens, publish.cost) == spent(engine, publish_task)
    assert gate.tokens is None and gate.task_id is None and gate.approval_id is not None
    assert gate.step_kind == "approval" and draft.step_kind == "agent"
    assert draft.task_id == draft_task
    assert all(b.end is not None for b in timeline.bars)
    assert draft.end <= gate.start and gate.end <= publish.start  # type: ignore[operator]
    assert timeline.tokens == (draft.tokens or 0) + (publish.tokens or 0)
    types = {e.type for e in timeline.events}
    assert {"STATE_CHANGE", "APPROVAL_REQUESTED", "APPROVAL_RESOLVED", "LLM_CALL"} <= types
    as_json = timeline.to_dict()
    assert as_json["bars"][0]["label"] == "draft"
    assert as_json["bars"][0]["cost"] == str(draft.cost)
    assert as_json["id"] == str(execution_id)


def test_a_long_run_shows_its_latest_events_and_counts_them_all(
    harness: Harness, runtime_engine: sa.Engine
) -> None:
    add_agent(harness.engine, "chatty")
    task_id = _task(harness, "chatty")
    execute_task(harness.runtime, task_id)
    with harness.engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO event_logs (tenant_id, task_id, event_type, content) "
                "SELECT tenant_id, id, 'LOG', 'note ' || n FROM tasks, generate_series(1, :n) n "
                "WHERE id = :t"
            ),
            {"t": task_id, "n": EVENT_LIMIT + 100},
        )

    timeline = _read(runtime_engine, "acme", task_timeline, task_id)

    assert len(timeline.events) == EVENT_LIMIT
    assert timeline.events_total > EVENT_LIMIT + 100  # the run's own events too
    assert timeline.events[-1].content == f"note {EVENT_LIMIT + 100}"
    assert [e.id for e in timeline.events] == sorted(e.id for e in timeline.events)
    assert _kinds(timeline) == ["llm"]  # the bars still see every call
