"""``/v1/approvals`` against the real PostgreSQL through the confined runtime role: the list,
one approval, and decisions through a ``decide`` key for a named approver, read back from the
approval row and ``approval_decisions``. Tool approvals are parked by a real agent run against
the local LLM server (as in test_tool_approvals.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.support.agents import add_agent
from tests.support.api_calls import bearer, problem, tenant_key
from tests.support.local_llm import admin
from tests.support.people import add_member
from tests.support.publisher import RecordingPublisher
from tests.support.workflows import add_workflow, approval_gate
from worker.agents.runner import execute_task
from worker.agents.runtime import build_runtime
from worker.agents.submission import create_task
from worker.agents.tools import ToolContext, ToolRegistry
from worker.api.app import create_api
from worker.approvals import tool_call_digest
from worker.core.contract import RunTaskRequest
from worker.core.settings import Settings
from worker.dev.llm_server import LocalLLMServer
from worker.security.encryption import SecretBox, generate_key
from worker.workflows.catalog import start_execution
from worker.workflows.engine import advance

BOX = SecretBox([generate_key()])
PROBLEM = "application/problem+json"
ADA, BOB, MEL = "ada@acme.test", "bob@acme.test", "mel@acme.test"


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()


@pytest.fixture
def api(
    runtime_database_url: str,
    runtime_engine: sa.Engine,
    broker_url: str,
    publisher: RecordingPublisher,
) -> Iterator[TestClient]:
    settings = Settings(database_url=runtime_database_url, broker_url=broker_url)
    with TestClient(create_api(settings, runtime_engine, publisher)) as client:
        yield client


def _key(engine: sa.Engine, tenant: str = "acme", scopes: tuple[str, ...] = ("read", "decide")):
    return tenant_key(engine, tenant, scopes)


_auth = bearer
_problem = problem


def _gate(engine: sa.Engine, name: str = "gated", **policy: Any) -> uuid.UUID:
    """A pending approval of a workflow gate of tenant acme; Ada and Bob are approvers, Mel a
    member."""
    for email, role in ((ADA, "approver"), (BOB, "approver"), (MEL, "member")):
        with engine.connect() as connection:
            known = connection.execute(
                sa.text("SELECT 1 FROM users WHERE email = :e"), {"e": email}
            ).first()
        if known is None:
            add_member(engine, "acme", email, role)
    add_workflow(engine, name, [approval_gate(**policy)])
    with engine.begin() as connection:
        execution_id = start_execution(
            connection, tenant="acme", workflow=name, input={}, idempotency_key=None
        ).execution_id
    advance(engine, RecordingPublisher(), execution_id)
    with engine.connect() as connection:
        return connection.execute(
            sa.text("SELECT id FROM approvals WHERE workflow_execution_id = :x"),
            {"x": execution_id},
        ).scalar_one()


def _decide(api: TestClient, key: str, approval_id: Any, **body: Any) -> Any:
    return api.post(
        f"/v1/approvals/{approval_id}/decision",
        json={"decision": "approve", **body},
        headers=_auth(key),
    )


ROUTES = [
    ("get", "/v1/approvals", "read"),
    ("get", "/v1/approvals/{id}", "read"),
    ("post", "/v1/approvals/{id}/decision", "decide"),
]


@pytest.mark.parametrize(("method", "path", "scope"), ROUTES)
def test_every_route_refuses_a_missing_or_unknown_key(
    api: TestClient, method: str, path: str, scope: str
) -> None:
    url = path.format(id=uuid.uuid4())
    kwargs = {"json": {"decision": "approve", "user": ADA}} if method == "post" else {}
    assert "Authorization: Bearer" in _problem(getattr(api, method)(url, **kwargs), 401)["detail"]
    _problem(getattr(api, method)(url, headers=_auth("awk_" + "y" * 48), **kwargs), 401)


@pytest.mark.parametrize(("method", "path", "scope"), ROUTES)
def test_every_route_needs_its_scope(
    api: TestClient, engine: sa.Engine, method: str, path: str, scope: str
) -> None:
    approval_id = _gate(engine)
    limited = _key(engine, scopes=("decide",) if scope == "read" else ("read", "submit"))
    kwargs = {"json": {"decision": "approve", "user": ADA}} if method == "post" else {}

    response = getattr(api, method)(path.format(id=approval_id), headers=_auth(limited), **kwargs)
    assert f"'{scope}' scope" in _problem(response, 403, "forbidden")["detail"]
    assert api.get(f"/v1/approvals/{approval_id}", headers=_auth(_key(engine))).json()[
        "status"
    ] == ("pending")


def test_another_tenants_approval_is_not_found_and_not_listed(
    api: TestClient, engine: sa.Engine
) -> None:
    approval_id = _gate(engine)
    globex = _key(engine, "globex")

    assert api.get("/v1/approvals", headers=_auth(globex)).json() == {"approvals": []}
    _problem(api.get(f"/v1/approvals/{approval_id}", headers=_auth(globex)), 404, "not_found")
    decided = _decide(api, globex, approval_id, user=ADA)
    _problem(decided, 404, "not_found")
    _problem(api.get(f"/v1/approvals/{uuid.uuid4()}", headers=_auth(_key(engine))), 404)
    _problem(api.get("/v1/approvals/not-a-uuid", headers=_auth(_key(engine))), 404)
    with engine.connect() as connection:
        status = connection.execute(
            sa.text("SELECT status FROM approvals WHERE id = :a"), {"a": approval_id}
        ).scalar_one()
    assert status == "pending"


def test_the_list_is_the_tenants_pending_approvals_oldest_first_and_filters_by_status(
    api: TestClient, engine: sa.Engine
) -> None:
    first, second, third = _gate(engine, "one"), _gate(engine, "two"), _gate(engine, "three")
    key = _key(engine)
    assert _decide(api, key, second, user=ADA).status_code == 200

    pending = api.get("/v1/approvals", headers=_auth(key)).json()["approvals"]
    assert [a["id"] for a in pending] == [str(first), str(third)]
    assert pending[0]["workflow"] == "one" and pending[0]["status"] == "pending"
    approved = api.get("/v1/approvals", params={"status": "approved"}, headers=_auth(key))
    assert [a["id"] for a in approved.json()["approvals"]] == [str(second)]
    both = api.get(
        "/v1/approvals", params=[("status", "approved"), ("status", "pending")], headers=_auth(key)
    )
    assert [a["id"] for a in both.json()["approvals"]] == [str(first), str(second), str(third)]
    limited = api.get("/v1/approvals", params={"limit": 1}, headers=_auth(key))
    assert [a["id"] for a in limited.json()["approvals"]] == [str(first)]
    _problem(api.get("/v1/approvals", params={"status": "maybe"}, headers=_auth(key)), 422)


def test_approve_through_a_decide_key_records_the_approval_and_the_vote(
    api: TestClient, engine: sa.Engine, publisher: RecordingPublisher
) -> None:
    approval_id = _gate(engine)

    response = _decide(api, _key(engine), approval_id, user=ADA, comment="looks right")

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["decided_by"], body["decision_comment"]) == (
        "approved",
        ADA,
        "looks right",
    )
    with engine.connect() as connection:
        row = connection.execute(
            sa.text(
                "SELECT a.status, u.email, a.decided_by_principal FROM approvals a "
                "JOIN users u ON u.id = a.decided_by_user_id WHERE a.id = :a"
            ),
            {"a": approval_id},
        ).one()
        (vote,) = connection.execute(
            sa.text("SELECT * FROM approval_decisions WHERE approval_id = :a"), {"a": approval_id}
        ).all()
    assert (row.status, row.email) == ("approved", ADA)
    assert row.decided_by_principal["principal_kind"] == "service_key"
    assert (vote.approver, vote.decision, vote.principal_kind, vote.comment) == (
        ADA,
        "approve",
        "service_key",
        "looks right",
    )
    assert vote.principal.startswith("key ")
    # The gated execution moved on in the API's own process: its one step done, it completed,
    # with no message to send (worker.workflows.advance_here).
    with engine.connect() as connection:
        status = connection.execute(
            sa.text(
                "SELECT e.status FROM ai_workflow_executions e"
                " JOIN approvals a ON a.workflow_execution_id = e.id WHERE a.id = :a"
            ),
            {"a": approval_id},
        ).scalar_one()
    assert status == "completed"
    assert publisher.names() == []


def test_a_reject_is_recorded(api: TestClient, engine: sa.Engine) -> None:
    approval_id = _gate(engine)
    response = _decide(api, _key(engine), approval_id, decision="reject", user=BOB, comment="no")
    assert (response.json()["status"], response.json()["decided_by"]) == ("rejected", BOB)


def test_refused_decisions_are_problems_that_say_what_to_do(
    api: TestClient, engine: sa.Engine
) -> None:
    approval_id = _gate(engine)
    key = _key(engine)

    no_user = _problem(_decide(api, key, approval_id), 422)
    assert "'user'" in no_user["detail"]
    member = _problem(_decide(api, key, approval_id, user=MEL), 403, "not_allowed")
    assert "mel@acme.test is 'member'" in member["detail"]
    stranger = _problem(_decide(api, key, approval_id, user="who@else.test"), 403, "not_allowed")
    assert "unknown user" in stranger["detail"]
    digest = _problem(_decide(api, key, approval_id, user=ADA, digest="0" * 64), 409)
    assert digest["type"].endswith(":stale_request")
    _problem(_decide(api, key, approval_id, decision="maybe", user=ADA), 422)
    _problem(_decide(api, key, approval_id, user=ADA, surprise=1), 422)

    assert _decide(api, key, approval_id, user=ADA).status_code == 200
    again = _problem(_decide(api, key, approval_id, user=BOB), 409, "already_decided")
    assert f"already approved by {ADA}" in again["detail"]


def test_a_second_vote_of_one_approver_is_a_409(api: TestClient, engine: sa.Engine) -> None:
    approval_id = _gate(engine, quorum=2)
    key = _key(engine)

    assert _decide(api, key, approval_id, user=ADA).json()["status"] == "pending"
    _problem(_decide(api, key, approval_id, user=ADA), 409, "duplicate_vote")
    assert _decide(api, key, approval_id, user=BOB).json()["status"] == "approved"


# --- a tool approval: the decision names the digest it was shown -----------------------------

ASKED = {"to": "ops@acme.test", "body": "the venue is booked"}


@pytest.fixture
def parked_tool(database_url: str, engine: sa.Engine) -> Iterator[tuple[uuid.UUID, uuid.UUID]]:
    """(task, approval): a run whose model asked to call ``send_notice`` with ASKED."""
    registry = ToolRegistry()

    @registry.tool(needs_approval=True, side_effects=True)
    def send_notice(context: ToolContext, to: str, body: str) -> str:
        """Send a notice to someone outside."""
        return f"sent to {to}"

    with LocalLLMServer() as llm:
        settings = Settings(database_url=database_url, openai_base_url=llm.base_url)
        runtime = build_runtime(settings, RecordingPublisher(), tools=registry)
        try:
            for email in (ADA, BOB):
                add_member(engine, "acme", email, "approver")
            model = add_agent(engine, "notifier", tools=["send_notice"])
            admin(llm, "POST", "/_tool_arguments", {"model": model, "arguments": ASKED})
            with engine.begin() as connection:
                task_id = create_task(
                    connection,
                    Settings(),
                    RunTaskRequest(tenant="acme", agent="notifier", input="tell ops"),
                    idempotency_key=None,
                ).task_id
            execute_task(runtime, task_id)
            with engine.connect() as connection:
                approval_id = connection.execute(
                    sa.text("SELECT id FROM approvals WHERE task_id = :t"), {"t": task_id}
                ).scalar_one()
            yield task_id, approval_id
        finally:
            runtime.close()


def test_a_tool_approval_needs_the_digest_shown_and_takes_an_edit(
    api: TestClient, engine: sa.Engine, parked_tool: tuple[uuid.UUID, uuid.UUID]
) -> None:
    _, approval_id = parked_tool
    key = _key(engine)
    shown = api.get(f"/v1/approvals/{approval_id}", headers=_auth(key)).json()
    assert shown["kind"] == "tool_call" and shown["arguments"] == ASKED
    assert shown["digest"] == tool_call_digest("send_notice", ASKED)

    missing = _problem(_decide(api, key, approval_id, user=ADA), 422)
    assert "digest" in missing["detail"] and shown["digest"] in missing["detail"]
    stale = _problem(_decide(api, key, approval_id, user=ADA, digest="0" * 64), 409)
    assert "the request changed since you saw it" in stale["detail"]
    bad_edit = _decide(api, key, approval_id, user=ADA, digest=shown["digest"], arguments={"to": 5})
    assert "schema" in _problem(bad_edit, 422, "invalid_request")["detail"]

    edited = {"to": "ops-lead@acme.test", "body": "booked for May"}
    decided = _decide(api, key, approval_id, user=ADA, digest=shown["digest"], arguments=edited)

    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "approved"
    assert decided.json()["approved_digest"] == tool_call_digest("send_notice", edited)
    with engine.connect() as connection:
        vote = connection.execute(
            sa.text("SELECT approver, digest, arguments FROM approval_decisions")
        ).one()
    assert (vote.approver, vote.arguments) == (ADA, edited)
