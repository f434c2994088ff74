"""The HTTP API (``worker.api``) against the real PostgreSQL, logged in as the runtime role
that row-level security confines, with a publisher that records what it would send."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from models import EventLog, EventType, Task, TaskStatus
from tests.support.agents import add_agent, ensure_tenant
from tests.support.environment import without_services
from tests.support.publisher import RecordingPublisher
from tests.support.stack import ROOT
from worker.api.app import create_api
from worker.core.contract import RUN_TASK
from worker.core.settings import Settings
from worker.dev.services import free_port
from worker.security.api_keys import issue_key
from worker.security.encryption import SecretBox, generate_key

BOX = SecretBox([generate_key()])
PROBLEM = "application/problem+json"


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


def _key(
    engine: sa.Engine, tenant: str = "acme", scopes: tuple[str, ...] = ("submit", "read")
) -> str:
    tenant_id = ensure_tenant(engine, tenant)
    with engine.begin() as connection:
        return issue_key(connection, BOX, tenant_id=tenant_id, name="svc", scopes=list(scopes)).key


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status
    assert body["type"] and body["title"] and body["detail"]
    return body


def _submit(api: TestClient, key: str, **headers: str) -> Any:
    return api.post(
        "/v1/tasks",
        json={"agent": "assistant", "input": "Plan a venue shortlist", "priority": 3},
        headers={**_auth(key), **headers},
    )


@pytest.fixture
def acme_key(engine: sa.Engine) -> str:
    add_agent(engine, "assistant", tenant="acme")
    return _key(engine, "acme")


ROUTES = [
    ("post", "/v1/tasks", "submit"),
    ("get", "/v1/tasks/{id}", "read"),
    ("post", "/v1/tasks/{id}/cancel", "submit"),
    ("get", "/v1/tasks/{id}/events", "read"),
]


@pytest.mark.parametrize(("method", "path", "scope"), ROUTES)
def test_every_route_refuses_a_missing_or_unknown_key_with_a_problem(
    api: TestClient, method: str, path: str, scope: str
) -> None:
    url = path.format(id=uuid.uuid4())
    body = _problem(getattr(api, method)(url), 401)
    assert "Authorization: Bearer" in body["detail"]
    wrong = "awk_" + "x" * 48
    _problem(getattr(api, method)(url, headers=_auth(wrong)), 401)
    _problem(getattr(api, method)(url, headers={"Authorization": "Basic abc"}), 401)


@pytest.mark.parametrize(("method", "path", "scope"), ROUTES)
def test_every_route_needs_its_scope(
    api: TestClient, engine: sa.Engine, acme_key: str, method: str, path: str, scope: str
) -> None:
    task_id = _submit(api, acme_key).json()["id"]
    other_scope = "read" if scope == "submit" else "submit"
    limited = _key(engine, "acme", scopes=(other_scope,))

    body = _problem(getattr(api, method)(path.format(id=task_id), headers=_auth(limited)), 403)
    assert f"'{scope}' scope" in body["detail"]


@pytest.mark.parametrize(("method", "path", "scope"), ROUTES[1:])
def test_another_tenants_task_is_not_found(
    api: TestClient, engine: sa.Engine, acme_key: str, method: str, path: str, scope: str
) -> None:
    task_id = _submit(api, acme_key).json()["id"]
    globex = _key(engine, "globex")

    _problem(getattr(api, method)(path.format(id=task_id), headers=_auth(globex)), 404)
    _problem(getattr(api, method)(path.format(id=uuid.uuid4()), headers=_auth(acme_key)), 404)
    with engine.connect() as connection:
        status = connection.execute(sa.select(Task.status).where(Task.id == task_id)).scalar_one()
    assert status == TaskStatus.PENDING  # globex's cancel changed nothing


def test_submit_commits_the_task_for_the_keys_tenant_and_publishes_only_its_id(
    api: TestClient, engine: sa.Engine, acme_key: str, publisher: RecordingPublisher
) -> None:
    response = _submit(api, acme_key)

    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["status"], body["agent_name"], body["created"]) == ("PENDING", "assistant", True)
    assert response.headers["location"] == f"/v1/tasks/{body['id']}"
    assert publisher.sent == [(RUN_TASK, {"task_id": body["id"]}, None)]
    with engine.connect() as connection:
        row = connection.execute(sa.select(Task).where(Task.id == body["id"])).one()
    assert row.tenant_id == ensure_tenant(engine, "acme")
    assert row.priority == 3


def test_one_idempotency_key_submitted_twice_makes_one_task_and_one_publish(
    api: TestClient, engine: sa.Engine, acme_key: str, publisher: RecordingPublisher
) -> None:
    first = _submit(api, acme_key, **{"Idempotency-Key": "order-42"})
    second = _submit(api, acme_key, **{"Idempotency-Key": "order-42"})

    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert second.json()["created"] is False
    assert len(publisher.sent) == 1
    with engine.connect() as connection:
        count = connection.execute(
            sa.select(sa.func.count()).select_from(Task).where(Task.idempotency_key == "order-42")
        ).scalar_one()
    assert count == 1


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"input": "hi"}, "field 'agent' is required"),
        ({"agent": "assistant", "input": "hi", "tenant": "globex"}, "unknown field 'tenant'"),
        ({"agent": "assistant", "input": "hi", "priority": 12}, "priority"),
        (["not", "an", "object"], "JSON object"),
    ],
)
def test_an_invalid_submission_is_a_422_problem_with_the_contracts_message(
    api: TestClient, acme_key: str, publisher: RecordingPublisher, body: Any, expected: str
) -> None:
    response = api.post("/v1/tasks", json=body, headers=_auth(acme_key))

    assert expected in _problem(response, 422)["detail"]
    assert publisher.sent == []


def test_an_unknown_agent_is_a_422_problem(api: TestClient, acme_key: str) -> None:
    response = api.post(
        "/v1/tasks", json={"agent": "nobody", "input": "hi"}, headers=_auth(acme_key)
    )
    assert "nobody" in _problem(response, 422)["detail"]


def test_get_events_and_cancel_a_task(api: TestClient, engine: sa.Engine, acme_key: str) -> None:
    task_id = _submit(api, acme_key).json()["id"]
    with engine.begin() as connection:
        ids = [
            connection.execute(
                sa.insert(EventLog)
                .values(
                    tenant_id=ensure_tenant(engine, "acme"),
                    task_id=task_id,
                    event_type=EventType.LOG,
                    content=text,
                )
                .returning(EventLog.id)
            ).scalar_one()
            for text in ("one", "two", "three")
        ]

    got = api.get(f"/v1/tasks/{task_id}", headers=_auth(acme_key))
    assert got.status_code == 200 and got.json()["status"] == "PENDING"

    events = api.get(f"/v1/tasks/{task_id}/events", headers=_auth(acme_key)).json()["events"]
    assert [event["content"] for event in events] == ["one", "two", "three"]
    later = api.get(
        f"/v1/tasks/{task_id}/events", params={"after": ids[0]}, headers=_auth(acme_key)
    ).json()["events"]
    assert [event["id"] for event in later] == ids[1:]
    _problem(
        api.get(f"/v1/tasks/{task_id}/events", params={"after": -1}, headers=_auth(acme_key)), 422
    )

    cancelled = api.post(f"/v1/tasks/{task_id}/cancel", headers=_auth(acme_key))
    assert cancelled.status_code == 200, cancelled.text
    assert (cancelled.json()["status"], cancelled.json()["changed"]) == ("CANCELLED", True)
    again = api.post(f"/v1/tasks/{task_id}/cancel", headers=_auth(acme_key))
    assert (again.json()["status"], again.json()["changed"]) == ("CANCELLED", False)


def test_openapi_lists_the_routes_and_health_answers(api: TestClient) -> None:
    schema = api.get("/openapi.json").json()

    assert schema["openapi"].startswith("3.1")
    assert {
        "/v1/tasks",
        "/v1/tasks/{task_id}",
        "/v1/tasks/{task_id}/cancel",
        "/v1/tasks/{task_id}/events",
        "/healthz",
        "/readyz",
    } <= set(schema["paths"])
    submission = schema["paths"]["/v1/tasks"]["post"]["requestBody"]["content"]
    properties = submission["application/json"]["schema"]["properties"]
    assert "agent" in properties and "tenant" not in properties and "auth" not in properties
    assert api.get("/healthz").json() == {"status": "ok"}
    ready = api.get("/readyz")
    assert ready.status_code == 200, ready.text
    assert [check["name"] for check in ready.json()["checks"]] == ["database", "broker"]
    _problem(api.get("/v1/nowhere"), 404)


def test_readyz_is_a_503_problem_when_the_broker_is_down(
    runtime_database_url: str, runtime_engine: sa.Engine, publisher: RecordingPublisher
) -> None:
    settings = Settings(database_url=runtime_database_url, broker_url="redis://127.0.0.1:1/0")
    with TestClient(create_api(settings, runtime_engine, publisher)) as client:
        body = _problem(client.get("/readyz"), 503)
    assert "broker" in body["detail"]


def test_agentworker_api_serves_the_app_with_uvicorn(
    runtime_database_url: str, engine: sa.Engine, acme_key: str, broker_url: str
) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", "from worker.cli import main; main()", "api", "--port", str(port)],
        cwd=ROOT,
        env=without_services(DATABASE_URL=runtime_database_url, REDIS_URL=broker_url),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                health = httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.communicate()[0]
                assert time.monotonic() < deadline, "agentworker api did not answer in 30s"
                time.sleep(0.2)
        assert health.json() == {"status": "ok"}
        created = httpx.post(
            f"{base}/v1/tasks",
            json={"agent": "assistant", "input": "hi"},
            headers=_auth(acme_key),
            timeout=10,
        )
        assert created.status_code == 201, created.text
    finally:
        process.terminate()
        process.communicate(timeout=30)


def test_openapi_lists_the_stream_execution_and_approval_routes(api: TestClient) -> None:
    paths = api.get("/openapi.json").json()["paths"]

    assert {
        "/v1/tasks/{task_id}/events/stream": {"get"},
        "/v1/executions": {"post"},
        "/v1/executions/{execution_id}": {"get"},
        "/v1/executions/{execution_id}/cancel": {"post"},
        "/v1/executions/{execution_id}/events": {"get"},
        "/v1/executions/{execution_id}/events/stream": {"get"},
        "/v1/approvals": {"get"},
        "/v1/approvals/{approval_id}": {"get"},
        "/v1/approvals/{approval_id}/decision": {"post"},
    }.items() <= {path: set(methods) for path, methods in paths.items()}.items()
    for stream in (
        "/v1/tasks/{task_id}/events/stream",
        "/v1/executions/{execution_id}/events/stream",
    ):
        answer = paths[stream]["get"]["responses"]["200"]
        assert "text/event-stream" in answer["content"]
        parameters = {p["name"] for p in paths[stream]["get"]["parameters"]}
        assert {"Last-Event-ID", "after"} <= parameters
    start = paths["/v1/executions"]["post"]["requestBody"]["content"]["application/json"]
    assert "workflow" in start["schema"]["properties"]
    assert "tenant" not in start["schema"]["properties"]
    decision = paths["/v1/approvals/{approval_id}/decision"]["post"]
    assert {"409", "403", "404", "422"} <= set(decision["responses"])
