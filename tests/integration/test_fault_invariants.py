"""The campaign's invariant checks (tests/support/invariants.py) find what they look for: each
is shown a database (and a sink) that breaks its promise, and one that keeps it. A check that
cannot fail proves nothing."""

from __future__ import annotations

import json
import urllib.request
import uuid

import sqlalchemy as sa

from tests.support import invariants
from tests.support.agents import add_agent
from tests.support.people import add_member
from tests.support.publisher import RecordingPublisher
from tests.support.rows import RowFactory
from tests.support.sink import Sink
from tests.support.workflows import add_workflow, approval_gate
from worker.approvals import cli_principal, resolve
from worker.workflows.catalog import start_execution
from worker.workflows.engine import advance

APPROVER = "ada@acme.test"


def _names(found: list[invariants.Violation]) -> list[str]:
    return [v.invariant for v in found]


def test_a_running_task_nobody_holds_and_a_reasonless_failure_are_unfinished(
    engine: sa.Engine,
) -> None:
    with engine.begin() as connection:
        rows = RowFactory(connection)
        rows.insert("tasks", status="SUCCEEDED")
        rows.insert("tasks", status="FAILED", error="too_many_attempts")
        waiting = rows.insert("tasks", status="AWAITING_APPROVAL")
        rows.insert("approvals", task_id=waiting, title="send it?")
    assert invariants.unfinished(engine) == []

    with engine.begin() as connection:
        rows = RowFactory(connection)
        stranded = rows.insert("tasks", status="RUNNING")
        rows.insert("tasks", status="FAILED")

    found = invariants.unfinished(engine)
    assert _names(found) == ["unfinished", "unfinished"]
    assert any(str(stranded) in v.subject for v in found)
    assert any("without a reason" in v.detail for v in found)


def _post(sink: Sink, path: str, key: str | None, task_id: str, call: str) -> None:
    request = urllib.request.Request(
        sink.url + path,
        data=json.dumps({"task_id": task_id, "tool_call_id": call}).encode(),
        method="POST",
        headers={"Content-Type": "application/json", **({"Idempotency-Key": key} if key else {})},
    )
    urllib.request.urlopen(request, timeout=5).close()


def test_the_sink_tells_a_redelivery_from_an_effect_applied_twice(engine: sa.Engine) -> None:
    task = str(uuid.uuid4())
    with Sink() as sink:
        _post(sink, "/notify", "k1", task, "call_a")
        _post(sink, "/notify", "k1", task, "call_a")  # the same key again: at-least-once
        assert invariants.side_effects(engine, sink) == []
        assert sink.requests_per_key()["k1"] == 2

        _post(sink, "/notify", "k2", task, "call_a")  # the same call under a new key
        _post(sink, "/once", "k3", task, "call_b")
        _post(sink, "/once", "k3", task, "call_b")  # /once applies every request
        _post(sink, "/notify", None, task, "call_c")

        problems = [str(v) for v in invariants.side_effects(engine, sink)]
    assert len(problems) == 3, problems
    assert any("call_a" in p and "2 times" in p for p in problems)
    assert any("call_b" in p and "2 times" in p for p in problems)
    assert any("call_c" in p and "no Idempotency-Key" in p for p in problems)


def test_a_call_recorded_as_done_that_never_reached_the_sink_is_found(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        rows = RowFactory(connection)
        task_id = rows.insert("tasks", status="SUCCEEDED")
        rows.insert(
            "action_logs",
            task_id=task_id,
            tool_name="notify_sink",
            tool_call_id="call_x",
            status="success",
            provider_name="test",
            idempotency_key="tool:x",
        )
    with Sink() as sink:
        found = invariants.side_effects(engine, sink)
        assert _names(found) == ["side_effect_lost"]
        _post(sink, "/notify", "tool:x", str(task_id), "call_x")
        assert invariants.side_effects(engine, sink) == []


def _gated(engine: sa.Engine) -> uuid.UUID:
    add_agent(engine, "writer")
    add_member(engine, "acme", APPROVER, "approver")
    add_workflow(
        engine,
        "guarded",
        [
            {"key": "draft", "kind": "agent", "agent": "writer", "input": "draft it"},
            approval_gate("review", on_reject="goto:draft"),
            {"key": "publish", "kind": "agent", "agent": "writer", "input": "publish it"},
        ],
    )
    with engine.begin() as connection:
        execution_id = start_execution(
            connection, tenant="acme", workflow="guarded", input={}, idempotency_key=None
        ).execution_id
    publisher = RecordingPublisher()
    advance(engine, publisher, execution_id)
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "UPDATE tasks SET status = 'SUCCEEDED', result = '{\"output\": \"d\"}', "
                "finished_at = now() WHERE workflow_step = 'draft'"
            )
        )
    advance(engine, publisher, execution_id)
    return execution_id


def _publish_runs_now(engine: sa.Engine, execution_id: uuid.UUID) -> None:
    """A step run of ``publish`` starts, whatever the gate said (what defect 1 did)."""
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO ai_workflow_step_runs (tenant_id, execution_id, step_key, "
                "step_kind, attempt, status, started_at) SELECT tenant_id, id, 'publish', "
                "'agent', 1, 'running', clock_timestamp() FROM ai_workflow_executions "
                "WHERE id = :e"
            ),
            {"e": execution_id},
        )


def test_a_step_past_a_rejected_gate_is_a_bypass(engine: sa.Engine) -> None:
    execution_id = _gated(engine)
    (approval_id,) = _pending(engine)
    resolve(
        engine,
        RecordingPublisher(),
        approval_id,
        "reject",
        APPROVER,
        "no",
        principal=cli_principal(),
    )

    _publish_runs_now(engine, execution_id)

    (found,) = invariants.gates_bypassed(engine)
    assert "publish" in found.detail and "rejected" in found.detail


def test_a_step_before_its_gate_is_decided_is_a_bypass_and_after_approval_it_is_not(
    engine: sa.Engine,
) -> None:
    execution_id = _gated(engine)
    _publish_runs_now(engine, execution_id)
    (found,) = invariants.gates_bypassed(engine)
    assert "not decided yet" in found.detail

    with engine.begin() as connection:
        connection.execute(sa.text("DELETE FROM ai_workflow_step_runs WHERE step_key = 'publish'"))
    (approval_id,) = _pending(engine)
    resolve(
        engine, RecordingPublisher(), approval_id, "approve", APPROVER, principal=cli_principal()
    )
    advance(engine, RecordingPublisher(), execution_id)
    assert invariants.gates_bypassed(engine) == []


def _pending(engine: sa.Engine) -> list[uuid.UUID]:
    with engine.connect() as connection:
        return list(
            connection.execute(sa.text("SELECT id FROM approvals WHERE status = 'pending'"))
            .scalars()
            .all()
        )


def test_llm_requests_beyond_persisted_calls_failures_and_crashes_are_found(
    engine: sa.Engine,
) -> None:
    with engine.begin() as connection:
        rows = RowFactory(connection)
        rows.insert("agent_runs", model="m-1", llm_calls=2, agent_name="a")
        rows.insert(
            "ai_error_logs",
            error_type="llm.http_500",
            error_message="boom",
            error_context={"model": "m-1"},
        )

    assert invariants.llm_calls(engine, {"m-1": 4}, crashes=1) == []
    (found,) = invariants.llm_calls(engine, {"m-1": 5}, crashes=1)
    assert found.subject == "model m-1"


def test_an_event_written_earlier_under_a_later_id_is_out_of_order(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        rows = RowFactory(connection)
        task_id = rows.insert("tasks")
        for seconds in (0, 2):
            rows.insert(
                "event_logs",
                task_id=task_id,
                event_type="LOG",
                created_at=sa.text(f"now() + interval '{seconds} seconds'"),
            )
    assert invariants.event_order(engine) == []

    with engine.begin() as connection:
        RowFactory(connection).insert(
            "event_logs",
            tenant_id=connection.execute(
                sa.text("SELECT tenant_id FROM tasks WHERE id = :t"), {"t": task_id}
            ).scalar_one(),
            task_id=task_id,
            event_type="LOG",
            created_at=sa.text("now() + interval '1 second'"),
        )

    (found,) = invariants.event_order(engine)
    assert found.subject == f"task {task_id}"
