"""A tool approval is bound to exactly what was shown (issue 12, item 3): the approved tool runs
with the approved arguments only, an approver's edit is what runs, a stale digest or an edit the
tool's schema refuses is refused, and what is about to run is checked against the approved
digest when it is dispatched.

Each run is driven in this process (``execute_task`` with a real runtime, PostgreSQL and the
local LLM server, scripted to call the tool with chosen arguments); the tool counts what it
received.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from tests.support.agents import add_agent, ensure_tenant
from tests.support.local_llm import admin
from tests.support.people import add_member
from tests.support.publisher import RecordingPublisher
from worker.agents.runner import execute_task
from worker.agents.runtime import Runtime, build_runtime
from worker.agents.submission import create_task
from worker.agents.tools import ToolContext, ToolRegistry
from worker.approvals import (
    InvalidEditedArguments,
    StaleRequest,
    cli_principal,
    get_approval,
    resolve,
    tool_call_digest,
)
from worker.core.contract import RUN_TASK, RunTaskRequest
from worker.core.settings import Settings
from worker.dev.llm_server import LocalLLMServer

ASKED = {"to": "ops@acme.test", "body": "the venue is booked"}
ADA, BOB = "ada@acme.test", "bob@acme.test"


class Harness:
    def __init__(self, runtime: Runtime, llm: LocalLLMServer) -> None:
        self.runtime, self.llm = runtime, llm
        self.received: list[dict[str, Any]] = []


@pytest.fixture
def harness(database_url: str) -> Iterator[Harness]:
    received: list[dict[str, Any]] = []
    registry = ToolRegistry()

    @registry.tool(needs_approval=True, side_effects=True)
    def send_notice(context: ToolContext, to: str, body: str) -> str:
        """Send a notice to someone outside."""
        received.append({"to": to, "body": body})
        return f"sent to {to}"

    with LocalLLMServer() as llm:
        settings = Settings(database_url=database_url, openai_base_url=llm.base_url)
        runtime = build_runtime(settings, RecordingPublisher(), tools=registry)
        try:
            harness = Harness(runtime, llm)
            harness.received = received
            yield harness
        finally:
            runtime.close()


def _parked(
    harness: Harness, *, behind: int = 0, **configuration: Any
) -> tuple[uuid.UUID, uuid.UUID]:
    """A task whose model asked to run ``send_notice`` with ASKED, parked on its approval;
    ``behind`` more tasks submitted through the window after it, before it runs."""
    engine = harness.runtime.engine
    for email in (ADA, BOB):
        add_member(engine, "acme", email, "approver")
    model = add_agent(engine, "notifier", tools=["send_notice"], **configuration)
    admin(harness.llm, "POST", "/_tool_arguments", {"model": model, "arguments": ASKED})
    with engine.begin() as connection:
        task_id = create_task(
            connection,
            Settings(),
            RunTaskRequest(tenant="acme", agent="notifier", input="tell ops"),
            idempotency_key=None,
        ).task_id
        for number in range(behind):
            create_task(
                connection,
                Settings(),
                RunTaskRequest(tenant="acme", agent="notifier", input=f"then {number}"),
                idempotency_key=None,
                admission=True,
            )
    execute_task(harness.runtime, task_id)
    with engine.connect() as connection:
        approval_id = connection.execute(
            sa.text("SELECT id FROM approvals WHERE task_id = :t"), {"t": task_id}
        ).scalar_one()
    assert harness.received == [], "a tool that needs approval ran before it was approved"
    return task_id, approval_id


def _decide(harness: Harness, approval_id: uuid.UUID, user: str, **options: Any) -> Any:
    return resolve(
        harness.runtime.engine,
        harness.runtime.publisher,
        approval_id,
        options.pop("decision", "approve"),
        user,
        principal=cli_principal(),
        **options,
    )


def _actions(engine: sa.Engine, task_id: uuid.UUID) -> list[sa.Row[Any]]:
    with engine.connect() as connection:
        return list(
            connection.execute(
                sa.text(
                    "SELECT tool_name, status, error_message, request_payload FROM action_logs "
                    "WHERE task_id = :t"
                ),
                {"t": task_id},
            )
        )


def test_the_approval_shows_the_digest_of_the_call_the_model_asked_for(harness: Harness) -> None:
    _, approval_id = _parked(harness)

    view = get_approval(harness.runtime.engine, approval_id)

    assert view.arguments == ASKED
    assert view.digest == tool_call_digest("send_notice", ASKED)


def test_an_approved_tool_runs_once_with_the_approved_arguments(harness: Harness) -> None:
    task_id, approval_id = _parked(harness)
    shown = get_approval(harness.runtime.engine, approval_id).digest

    decided = _decide(harness, approval_id, ADA, digest=shown)
    assert decided.status.value == "approved" and decided.approved_digest == shown

    assert execute_task(harness.runtime, task_id).status == "succeeded"
    assert harness.received == [ASKED]


def test_edited_arguments_are_what_runs(harness: Harness) -> None:
    task_id, approval_id = _parked(harness)
    shown = get_approval(harness.runtime.engine, approval_id).digest
    edited = {"to": "ops-lead@acme.test", "body": "the venue is booked for May"}

    decided = _decide(harness, approval_id, ADA, digest=shown, arguments=edited)

    assert decided.approved_digest == tool_call_digest("send_notice", edited)
    assert decided.edited_arguments == edited
    assert execute_task(harness.runtime, task_id).status == "succeeded"
    assert harness.received == [edited]
    with harness.runtime.engine.connect() as connection:
        messages = connection.execute(
            sa.text(
                "SELECT (SELECT jsonb_agg(m.message ORDER BY m.seq) "
                "FROM agent_run_messages m WHERE m.run_id = agent_runs.id) "
                "FROM agent_runs WHERE task_id = :t"
            ),
            {"t": task_id},
        ).scalar_one()
    (told,) = [m["content"] for m in messages if m.get("role") == "tool"]
    assert told.startswith("(run with arguments edited by an approver:")


def test_a_stale_digest_is_refused_and_audited(harness: Harness) -> None:
    _, approval_id = _parked(harness)

    with pytest.raises(StaleRequest, match="the request changed since you saw it"):
        _decide(harness, approval_id, ADA, digest="0" * 64)

    view = get_approval(harness.runtime.engine, approval_id)
    assert view.status.value == "pending" and view.votes == ()
    with harness.runtime.engine.connect() as connection:
        code = connection.execute(
            sa.text("SELECT changes->>'code' FROM audit_logs WHERE action = 'approval.refused'")
        ).scalar_one()
    assert code == "stale_request"


def test_an_edit_moves_the_pending_call_so_a_vote_for_the_earlier_one_is_stale(
    harness: Harness,
) -> None:
    task_id, approval_id = _parked(harness, tool_approvals={"send_notice": {"quorum": 2}})
    shown = get_approval(harness.runtime.engine, approval_id).digest
    edited = {"to": "ops-lead@acme.test", "body": "booked"}

    assert _decide(harness, approval_id, ADA, digest=shown, arguments=edited).status == "pending"
    with pytest.raises(StaleRequest):
        _decide(harness, approval_id, BOB, digest=shown)  # Bob saw the model's call
    new = get_approval(harness.runtime.engine, approval_id).digest
    assert _decide(harness, approval_id, BOB, digest=new).status.value == "approved"

    assert execute_task(harness.runtime, task_id).status == "succeeded"
    assert harness.received == [edited]


def test_invalid_edited_arguments_are_refused_with_the_schema_error(harness: Harness) -> None:
    _, approval_id = _parked(harness)

    with pytest.raises(InvalidEditedArguments, match=r"schema: .*'body' is a required property"):
        _decide(harness, approval_id, ADA, arguments={"to": "ops@acme.test"})
    with pytest.raises(InvalidEditedArguments, match="to: 5 is not of type 'string'"):
        _decide(harness, approval_id, ADA, arguments={"to": 5, "body": "x"})

    assert get_approval(harness.runtime.engine, approval_id).status.value == "pending"
    assert harness.received == []


def test_a_call_whose_approved_arguments_were_changed_after_approval_is_not_run(
    harness: Harness,
) -> None:
    task_id, approval_id = _parked(harness)
    _decide(harness, approval_id, ADA)
    with harness.runtime.engine.begin() as connection:  # someone rewrites the approved call
        connection.execute(
            sa.text("UPDATE approvals SET approved_arguments = CAST(:a AS jsonb) WHERE id = :i"),
            {"a": '{"to": "attacker@evil.test", "body": "the venue is booked"}', "i": approval_id},
        )

    assert execute_task(harness.runtime, task_id).status == "succeeded"

    assert harness.received == []
    (action,) = _actions(harness.runtime.engine, task_id)
    assert action.status == "failure"
    assert "is not the one approved" in action.error_message


def test_a_rejected_call_never_runs(harness: Harness) -> None:
    task_id, approval_id = _parked(harness)

    _decide(harness, approval_id, ADA, decision="reject", comment="not now")

    assert execute_task(harness.runtime, task_id).status == "succeeded"
    assert harness.received == []


def test_a_task_parked_for_an_approver_gives_its_slot_to_the_next_held_one(
    harness: Harness,
) -> None:
    engine = harness.runtime.engine
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                'UPDATE tenants SET metadata = \'{"dispatch": {"max_in_flight": 1}}\' WHERE id = :t'
            ),
            {"t": ensure_tenant(engine, "acme")},
        )

    parked, _ = _parked(harness, behind=1)

    with engine.connect() as connection:
        (held,) = connection.execute(
            sa.text("SELECT id, released_at FROM tasks WHERE id <> :t"), {"t": parked}
        ).all()
    assert held.released_at is not None, "still held while the parked task holds no slot"
    assert (RUN_TASK, {"task_id": str(held.id)}, None) in harness.runtime.publisher.sent
