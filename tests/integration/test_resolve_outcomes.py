"""A decision sent by a service learns its outcome: ``approvals.resolve`` retries when the
database is unreachable, and a refusal (already decided, no such approval) is recorded where
the sender can read it, naming its message, instead of only in a worker's log."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import InterfaceError, OperationalError

from tests.support.agents import add_agent
from tests.support.people import add_member
from tests.support.publisher import RecordingPublisher
from tests.support.workflows import add_workflow, approval_gate
from worker.agents.runtime import Runtime, build_runtime
from worker.app.handlers import handle_resolve_approval
from worker.core.settings import Settings
from worker.workflows.catalog import start_execution
from worker.workflows.engine import advance


@pytest.fixture
def runtime(database_url: str) -> Iterator[Runtime]:
    settings = Settings(database_url=database_url, openai_base_url="http://127.0.0.1:9/v1")
    runtime = build_runtime(settings, RecordingPublisher(), concurrency=2, heartbeat=False)
    try:
        yield runtime
    finally:
        runtime.close()


def _pending_approval(engine: sa.Engine) -> str:
    add_agent(engine, "writer")
    add_member(engine, "acme", "ada@acme.test", "approver")
    add_member(engine, "acme", "bob@acme.test", "approver")
    add_workflow(engine, "gated", [approval_gate()])
    with engine.begin() as connection:
        execution_id = start_execution(
            connection, tenant="acme", workflow="gated", input={}, idempotency_key=None
        ).execution_id
    advance(engine, RecordingPublisher(), execution_id)
    with engine.connect() as connection:
        return str(connection.execute(sa.text("SELECT id FROM approvals")).scalar_one())


def test_a_late_decision_is_refused_and_the_refusal_is_audited_with_its_message(
    runtime: Runtime, engine: sa.Engine
) -> None:
    approval_id = _pending_approval(engine)
    first = {"approval_id": approval_id, "decision": "approve", "user": "ada@acme.test"}
    late = {"approval_id": approval_id, "decision": "reject", "user": "bob@acme.test"}

    assert handle_resolve_approval(runtime, first, "m-1")["status"] == "approved"
    refused = handle_resolve_approval(runtime, late, "m-2")

    assert (refused["status"], refused["code"]) == ("refused", "already_decided")
    with engine.connect() as connection:
        row = connection.execute(
            sa.text(
                "SELECT actor, changes FROM audit_logs WHERE action = 'approval.refused' "
                "AND resource_id = :a"
            ),
            {"a": approval_id},
        ).one()
    assert row.actor == "bob@acme.test"
    assert row.changes["broker_message_id"] == "m-2"
    assert "already approved by ada@acme.test" in row.changes["reason"]


def test_a_decision_for_no_such_approval_is_kept_with_its_message(
    runtime: Runtime, engine: sa.Engine
) -> None:
    missing = str(uuid.uuid4())
    payload = {"approval_id": missing, "decision": "approve", "user": "ada@acme.test"}

    assert handle_resolve_approval(runtime, payload, "m-3")["code"] == "approval_not_found"
    with engine.connect() as connection:
        context = connection.execute(
            sa.text("SELECT error_context FROM ai_error_logs WHERE error_type LIKE 'approval.%'")
        ).scalar_one()
    assert (context["broker_message_id"], context["approval_id"]) == ("m-3", missing)


def test_the_resolve_task_retries_while_the_database_is_unreachable() -> None:
    from tasks.approvals import resolve

    assert {OperationalError, InterfaceError} <= set(resolve.autoretry_for)
    assert resolve.max_retries and resolve.max_retries > 0


def test_a_refusal_audited_where_it_was_decided_is_not_audited_twice(
    runtime: Runtime, engine: sa.Engine
) -> None:
    approval_id = _pending_approval(engine)
    bound = {
        "approval_id": approval_id,
        "decision": "approve",
        "user": "ada@acme.test",
        "digest": "0" * 64,  # a workflow gate carries no digest: refused as stale
    }

    assert handle_resolve_approval(runtime, bound, "m-4")["code"] == "stale_request"
    with engine.connect() as connection:
        refusals = connection.execute(
            sa.text("SELECT count(*) FROM audit_logs WHERE action = 'approval.refused'")
        ).scalar_one()
    assert refusals == 1
