"""``/v1/executions`` against the real PostgreSQL through the confined runtime role, with a
publisher that records what it would send; the stream over real HTTP (uvicorn)."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from models import AIWorkflowExecution, ExecutionStatus
from tests.bench.api_server import serve
from tests.integration.test_api_streams import _frames
from tests.support.agents import ensure_tenant
from tests.support.people import add_member
from tests.support.publisher import RecordingPublisher
from tests.support.workflows import add_workflow, approval_gate
from worker.api.app import create_api
from worker.core.contract import ADVANCE_WORKFLOW
from worker.core.settings import Settings
from worker.security.api_keys import issue_key
from worker.security.encryption import SecretBox, generate_key
from worker.workflows.engine import advance

BOX = SecretBox([generate_key()])
PROBLEM = "application/problem+json"
ADA = "ada@acme.test"


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()


@pytest.fixture
def settings(runtime_database_url: str, broker_url: str) -> Settings:
    return Settings(
        database_url=runtime_database_url,
        broker_url=broker_url,
        api_stream_poll_seconds=0.05,
        api_stream_keepalive_seconds=0.5,
    )


@pytest.fixture
def api(
    settings: Settings, runtime_engine: sa.Engine, publisher: RecordingPublisher
) -> Iterator[TestClient]:
    with TestClient(create_api(settings, runtime_engine, publisher)) as client:
        yield client


def _key(engine: sa.Engine, tenant: str = "acme", scopes: tuple[str, ...] = ("submit", "read")):
    tenant_id = ensure_tenant(engine, tenant)
    with engine.begin() as connection:
        return issue_key(connection, BOX, tenant_id=tenant_id, name="svc", scopes=list(scopes)).key


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status and body["type"] and body["title"] and body["detail"]
    return body


@pytest.fixture
def acme_key(engine: sa.Engine) -> str:
    add_workflow(engine, "gated", [approval_gate()])
    return _key(engine, "acme", scopes=("submit", "read", "decide"))


def _start(api: Any, key: str, **headers: str) -> Any:
    return api.post(
        "/v1/executions",
        json={"workflow": "gated", "input": {"venue": "Lyon"}},
        headers={**_auth(key), **headers},
    )


ROUTES = [
    ("post", "/v1/executions", "submit"),
    ("get", "/v1/executions/{id}", "read"),
    ("post", "/v1/executions/{id}/cancel", "submit"),
    ("get", "/v1/executions/{id}/events", "read"),
    ("get", "/v1/executions/{id}/events/stream", "read"),
]


@pytest.mark.parametrize(("method", "path", "scope"), ROUTES)
def test_every_route_refuses_a_missing_or_unknown_key(
    api: TestClient, method: str, path: str, scope: str
) -> None:
    url = path.format(id=uuid.uuid4())
    assert "Authorization: Bearer" in _problem(getattr(api, method)(url), 401)["detail"]
    _problem(getattr(api, method)(url, headers=_auth("awk_" + "x" * 48)), 401)


@pytest.mark.parametrize(("method", "path", "scope"), ROUTES)
def test_every_route_needs_its_scope(
    api: TestClient, engine: sa.Engine, acme_key: str, method: str, path: str, scope: str
) -> None:
    execution_id = _start(api, acme_key).json()["id"]
    limited = _key(engine, "acme", scopes=("read" if scope == "submit" else "submit",))

    response = getattr(api, method)(path.format(id=execution_id), headers=_auth(limited))
    assert f"'{scope}' scope" in _problem(response, 403)["detail"]


@pytest.mark.parametrize(("method", "path", "scope"), ROUTES[1:])
def test_another_tenants_execution_is_not_found(
    api: TestClient, engine: sa.Engine, acme_key: str, method: str, path: str, scope: str
) -> None:
    execution_id = _start(api, acme_key).json()["id"]
    globex = _key(engine, "globex")

    _problem(getattr(api, method)(path.format(id=execution_id), headers=_auth(globex)), 404)
    _problem(getattr(api, method)(path.format(id=uuid.uuid4()), headers=_auth(acme_key)), 404)
    with engine.connect() as connection:
        status = connection.execute(
            sa.select(AIWorkflowExecution.status).where(AIWorkflowExecution.id == execution_id)
        ).scalar_one()
    assert status == ExecutionStatus.PENDING  # globex's cancel changed nothing


def test_start_commits_the_execution_for_the_keys_tenant_and_publishes_only_its_id(
    api: TestClient, engine: sa.Engine, acme_key: str, publisher: RecordingPublisher
) -> None:
    response = _start(api, acme_key)

    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["workflow"], body["status"], body["created"]) == ("gated", "pending", True)
    assert response.headers["location"] == f"/v1/executions/{body['id']}"
    assert publisher.sent == [(ADVANCE_WORKFLOW, {"execution_id": body["id"]}, None)]
    with engine.connect() as connection:
        row = connection.execute(
            sa.select(AIWorkflowExecution).where(AIWorkflowExecution.id == body["id"])
        ).one()
    assert row.tenant_id == ensure_tenant(engine, "acme")
    assert row.input_data == {"venue": "Lyon"}


def test_one_idempotency_key_started_twice_makes_one_execution_and_one_publish(
    api: TestClient, engine: sa.Engine, acme_key: str, publisher: RecordingPublisher
) -> None:
    first = _start(api, acme_key, **{"Idempotency-Key": "event-7"})
    second = _start(api, acme_key, **{"Idempotency-Key": "event-7"})

    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"] and second.json()["created"] is False
    assert len(publisher.sent) == 1
    with engine.connect() as connection:
        count = connection.execute(
            sa.select(sa.func.count())
            .select_from(AIWorkflowExecution)
            .where(AIWorkflowExecution.idempotency_key == "event-7")
        ).scalar_one()
    assert count == 1


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"input": {}}, "field 'workflow' is required"),
        ({"workflow": "gated", "tenant": "globex"}, "unknown field 'tenant'"),
        ({"workflow": "nothing-here"}, "unknown workflow 'nothing-here'"),
        ([1, 2], "JSON object"),
    ],
)
def test_an_invalid_start_is_a_422_problem(
    api: TestClient, acme_key: str, publisher: RecordingPublisher, body: Any, expected: str
) -> None:
    response = api.post("/v1/executions", json=body, headers=_auth(acme_key))
    assert expected in _problem(response, 422)["detail"]
    assert publisher.sent == []


def test_read_list_events_and_cancel_an_execution(
    api: TestClient, engine: sa.Engine, acme_key: str
) -> None:
    execution_id = _start(api, acme_key).json()["id"]
    advance(engine, RecordingPublisher(), uuid.UUID(execution_id))

    got = api.get(f"/v1/executions/{execution_id}", headers=_auth(acme_key)).json()
    assert (got["status"], got["current_step"], got["done"]) == ("awaiting_approval", "gate", False)
    events = api.get(f"/v1/executions/{execution_id}/events", headers=_auth(acme_key)).json()
    ids = [event["id"] for event in events["events"]]
    assert len(ids) >= 2 and ids == sorted(ids)
    assert "started" in events["events"][0]["content"]
    later = api.get(
        f"/v1/executions/{execution_id}/events", params={"after": ids[0]}, headers=_auth(acme_key)
    ).json()["events"]
    assert [event["id"] for event in later] == ids[1:]

    cancelled = api.post(f"/v1/executions/{execution_id}/cancel", headers=_auth(acme_key))
    assert cancelled.status_code == 200, cancelled.text
    assert (cancelled.json()["status"], cancelled.json()["changed"]) == ("cancelled", True)
    again = api.post(f"/v1/executions/{execution_id}/cancel", headers=_auth(acme_key)).json()
    assert (again["status"], again["changed"]) == ("cancelled", False)


def test_a_task_id_is_not_an_execution(api: TestClient, engine: sa.Engine, acme_key: str) -> None:
    from tests.support.agents import add_agent

    add_agent(engine, "assistant", tenant="acme")
    task = api.post(
        "/v1/tasks", json={"agent": "assistant", "input": "hi"}, headers=_auth(acme_key)
    )
    _problem(api.get(f"/v1/executions/{task.json()['id']}", headers=_auth(acme_key)), 404)
    _problem(api.post(f"/v1/executions/{task.json()['id']}/cancel", headers=_auth(acme_key)), 404)


def test_an_execution_stream_follows_it_through_an_api_decision_to_its_end(
    settings: Settings, runtime_engine: sa.Engine, engine: sa.Engine, acme_key: str
) -> None:
    """Start through the API, follow the stream, approve the gate through the API: the
    stream carries every event and ends with the execution."""
    add_member(engine, "acme", ADA, "approver")
    wakes = RecordingPublisher()
    app = create_api(settings, runtime_engine, wakes)
    with serve(app) as base:
        started = httpx.post(
            f"{base}/v1/executions", json={"workflow": "gated"}, headers=_auth(acme_key)
        )
        execution_id = started.json()["id"]
        advance(engine, RecordingPublisher(), uuid.UUID(execution_id))

        def approver() -> None:  # decides through the API once the stream is open
            time.sleep(0.3)
            approvals = httpx.get(f"{base}/v1/approvals", headers=_auth(acme_key)).json()
            (approval,) = approvals["approvals"]
            decided = httpx.post(
                f"{base}/v1/approvals/{approval['id']}/decision",
                json={"decision": "approve", "user": ADA, "comment": "go"},
                headers=_auth(acme_key),
            )
            assert decided.status_code == 200, decided.text

        with httpx.stream(
            "GET",
            f"{base}/v1/executions/{execution_id}/events/stream",
            headers=_auth(acme_key),
            timeout=10,
        ) as response:
            assert response.status_code == 200
            thread = threading.Thread(target=approver)
            thread.start()
            frames = [f for f in _frames(response.iter_lines()) if "comment" not in f]
            thread.join()

        listed = httpx.get(
            f"{base}/v1/executions/{execution_id}/events", headers=_auth(acme_key)
        ).json()["events"]

    assert [int(f["id"]) for f in frames[:-1]] == [event["id"] for event in listed]
    assert any(f["event"] == "APPROVAL_RESOLVED" for f in frames[:-1]), frames
    assert frames[-1]["event"] == "end"
    assert json.loads(frames[-1]["data"]) == {"status": "completed"}
    # the start woke the execution through the API's publisher; the decision moved it on in
    # the API's own process (worker.workflows.advance_here)
    assert wakes.sent == [(ADVANCE_WORKFLOW, {"execution_id": execution_id}, None)]
