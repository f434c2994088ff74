"""Seed 004's resources over HTTP (``/v1/projects``, ``/v1/board-tasks``, ``/v1/interviews``,
``/v1/prompts``, ``/v1/chat-sessions``, ``/v1/commits``) on the real PostgreSQL through the
confined runtime role: CRUD, the board's transitions, interview answers checked against their
schema, tenancy (another tenant's row is 404), scopes and the audit row of each write.
AI models and settings: test_api_resources_admin.py."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from models import AuditLog, BoardTaskStatus, CommitType
from models.tenant_scope import tenant_scope
from tests.support import api_calls
from tests.support.agents import ensure_tenant
from tests.support.api_calls import bearer, problem, tenant_key
from tests.support.publisher import RecordingPublisher
from tests.support.workflows import add_workflow, approval_gate
from worker.core.contract import ADVANCE_WORKFLOW
from worker.orchestrator import move_card, open_interview, write_commit
from worker.workflows.catalog import start_execution

WRITE = ("read", "submit")
#: The shared fixtures: the real app over the runtime role, and what it publishes.
api = api_calls.api
publisher = api_calls.publisher


@pytest.fixture
def key(engine: sa.Engine) -> str:
    return tenant_key(engine, scopes=WRITE)


def _project(api: TestClient, key: str, name: str = "shop") -> dict[str, Any]:
    response = api.post("/v1/projects", json={"name": name}, headers=bearer(key))
    assert response.status_code == 201, response.text
    return response.json()


def _card(api: TestClient, key: str, project_id: str, title: str, **fields: Any) -> dict[str, Any]:
    body = {"project_id": project_id, "title": title, **fields}
    response = api.post("/v1/board-tasks", json=body, headers=bearer(key))
    assert response.status_code == 201, response.text
    return response.json()


def _audits(engine: sa.Engine, resource_id: Any) -> list[tuple[str, str, dict[str, Any]]]:
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(AuditLog.action, AuditLog.actor, AuditLog.metadata_)
            .where(AuditLog.resource_id == str(resource_id))
            .order_by(AuditLog.created_at)
        ).all()
    return [tuple(row) for row in rows]  # type: ignore[misc]


def test_a_project_is_created_read_listed_changed_and_deleted(
    api: TestClient, engine: sa.Engine, key: str
) -> None:
    created = _project(api, key)
    assert created["task_count"] == created["commit_count"] == 0
    project_id = created["id"]
    _card(api, key, project_id, "sign-in")

    shown = api.get(f"/v1/projects/{project_id}", headers=bearer(key)).json()
    assert (shown["name"], shown["task_count"], shown["interview_count"]) == ("shop", 1, 0)
    listed = api.get("/v1/projects", headers=bearer(key)).json()
    assert [p["id"] for p in listed["items"]] == [project_id] and listed["next_offset"] is None

    changed = api.patch(
        f"/v1/projects/{project_id}", json={"description": "a web shop"}, headers=bearer(key)
    )
    assert changed.status_code == 200 and changed.json()["description"] == "a web shop"
    problem(api.patch(f"/v1/projects/{project_id}", json={}, headers=bearer(key)), 422)
    assert api.delete(f"/v1/projects/{project_id}", headers=bearer(key)).status_code == 204
    problem(api.get(f"/v1/projects/{project_id}", headers=bearer(key)), 404, "not_found")

    audits = _audits(engine, project_id)
    assert [a[0] for a in audits] == ["project.created", "project.updated", "project.deleted"]
    assert all(a[1].startswith("key ") and a[2]["principal"]["key_id"] for a in audits)


def test_another_tenants_project_is_not_found_and_not_listed(
    api: TestClient, engine: sa.Engine, key: str
) -> None:
    theirs = _project(api, tenant_key(engine, "globex", WRITE), "their shop")["id"]
    for method in ("get", "patch", "delete"):
        kwargs = {"json": {"name": "mine now"}} if method == "patch" else {}
        response = getattr(api, method)(f"/v1/projects/{theirs}", headers=bearer(key), **kwargs)
        problem(response, 404, "not_found")
    assert api.get("/v1/projects", headers=bearer(key)).json()["items"] == []
    # Nor can a row of ours point at their project (foreign keys ignore row-level security).
    response = api.post(
        "/v1/board-tasks", json={"project_id": theirs, "title": "x"}, headers=bearer(key)
    )
    problem(response, 404)


def test_a_read_only_key_cannot_write(api: TestClient, engine: sa.Engine, key: str) -> None:
    project_id = _project(api, key)["id"]
    reader = tenant_key(engine, scopes=("read",))
    writes = [
        ("post", "/v1/projects", {"name": "x"}),
        ("patch", f"/v1/projects/{project_id}", {"name": "x"}),
        ("delete", f"/v1/projects/{project_id}", None),
        ("post", "/v1/board-tasks", {"project_id": project_id, "title": "x"}),
        ("post", "/v1/prompts", {"project_id": project_id, "content": "x", "type": "task"}),
        ("post", f"/v1/interviews/{uuid.uuid4()}/messages", {"content": "x"}),
        ("post", "/v1/chat-sessions", {"board_task_id": str(uuid.uuid4())}),
    ]
    for method, path, body in writes:
        kwargs = {"json": body} if body is not None else {}
        response = getattr(api, method)(path, headers=bearer(reader), **kwargs)
        assert "'submit' scope" in problem(response, 403, "forbidden")["detail"], path
    assert api.get(f"/v1/projects/{project_id}", headers=bearer(reader)).status_code == 200
    problem(api.get("/v1/projects"), 401)


def test_the_board_refuses_a_skipped_review_and_reorders(
    api: TestClient, engine: sa.Engine, key: str
) -> None:
    project_id = _project(api, key)["id"]
    a, b, c = (_card(api, key, project_id, t) for t in ("a", "b", "c"))
    assert [a["order"], b["order"], c["order"], a["column"]] == [0, 1, 2, "backlog"]

    def move(card: dict[str, Any], **body: Any) -> Any:
        return api.post(f"/v1/board-tasks/{card['id']}/move", json=body, headers=bearer(key))

    moved = move(c, new_status="backlog", new_order=0)
    assert moved.status_code == 200 and moved.json()["order"] == 0
    board = api.get(f"/v1/board-tasks?project_id={project_id}", headers=bearer(key)).json()
    assert [card["title"] for card in board["items"]] == ["c", "a", "b"]

    assert move(a, new_status="in_progress").json()["status"] == "in_progress"
    refused = problem(move(a, new_status="done"), 409, "invalid_move")
    assert "cannot move to done" in refused["detail"] and "review, todo" in refused["detail"]
    shown = api.get(f"/v1/board-tasks/{a['id']}", headers=bearer(key)).json()
    assert (shown["status"], shown["chat_session_count"], shown["commit_count"]) == (
        "in_progress",
        0,
        0,
    )
    in_progress = api.get(
        f"/v1/board-tasks?project_id={project_id}&status=in_progress", headers=bearer(key)
    ).json()
    assert [card["title"] for card in in_progress["items"]] == ["a"]
    assert [x[0] for x in _audits(engine, a["id"])] == ["board_task.created", "board_task.moved"]
    problem(move(a, new_status="shipped"), 422)


def test_a_card_is_renamed_but_not_moved_by_patch_and_deleted(api: TestClient, key: str) -> None:
    project_id = _project(api, key)["id"]
    card = _card(api, key, project_id, "draft", description="d", status="todo")
    assert (card["status"], card["column"]) == ("todo", "todo")
    path = f"/v1/board-tasks/{card['id']}"
    assert api.patch(path, json={"title": "final"}, headers=bearer(key)).json()["title"] == "final"
    refused = problem(api.patch(path, json={"status": "done"}, headers=bearer(key)), 422)
    assert "status" in refused["detail"]
    problem(api.get("/v1/board-tasks", headers=bearer(key)), 422)  # which board?
    assert api.delete(path, headers=bearer(key)).status_code == 204
    problem(api.get(path, headers=bearer(key)), 404)


@pytest.fixture
def execution_id(engine: sa.Engine) -> uuid.UUID:
    add_workflow(engine, "asker", [approval_gate()])
    with engine.begin() as connection:
        return start_execution(
            connection, tenant="acme", workflow="asker", input={}, idempotency_key=None
        ).execution_id


def test_an_answer_that_fails_its_schema_records_nothing_then_a_valid_one_wakes_the_workflow(
    api: TestClient,
    engine: sa.Engine,
    key: str,
    publisher: RecordingPublisher,
    execution_id: uuid.UUID,
) -> None:
    project_id = uuid.UUID(_project(api, key)["id"])
    schema = {"type": "object", "required": ["users"], "properties": {"users": {"type": "integer"}}}
    tenant_id = ensure_tenant(engine, "acme")
    with tenant_scope(tenant_id), engine.begin() as connection:
        interview = open_interview(
            connection,
            tenant_id=tenant_id,
            project_id=project_id,
            first_question="How many users?",
            answer_schema=schema,
            workflow_execution_id=execution_id,
            workflow_step="interview",
        )
    path = f"/v1/interviews/{interview.id}"
    shown = api.get(path, headers=bearer(key)).json()
    assert shown["waiting_question"] == {
        "question": 1,
        "content": "How many users?",
        "answer_schema": schema,
    }

    bad = api.post(f"{path}/messages", json={"content": {"users": "many"}}, headers=bearer(key))
    body = problem(bad, 422, "invalid_answer")
    assert body["path"] == "users" and "answer again" in body["detail"]
    assert (
        api.get(path, headers=bearer(key)).json()["conversation_data"] == shown["conversation_data"]
    )
    assert publisher.sent == [] and _audits(engine, interview.id) == []

    good = api.post(
        f"{path}/messages", json={"content": {"users": 40}, "question": 1}, headers=bearer(key)
    )
    assert good.status_code == 201, good.text
    answered = good.json()
    assert answered["conversation_data"][-1]["content"] == {"users": 40}
    assert answered["waiting_question"] is None
    assert publisher.sent == [(ADVANCE_WORKFLOW, {"execution_id": str(execution_id)}, None)]
    assert [a[0] for a in _audits(engine, interview.id)] == ["interview.answered"]

    again = api.post(f"{path}/messages", json={"content": {"users": 41}}, headers=bearer(key))
    problem(again, 409, "not_awaiting_answer")
    listed = api.get(
        f"/v1/interviews?project_id={project_id}&status=active", headers=bearer(key)
    ).json()
    assert [i["id"] for i in listed["items"]] == [str(interview.id)]
    problem(api.get(f"/v1/interviews/{uuid.uuid4()}", headers=bearer(key)), 404)
    problem(api.post("/v1/interviews", json={}, headers=bearer(key)), 405)


def test_a_prompt_change_is_a_new_version_and_composes_its_components(
    api: TestClient, key: str
) -> None:
    project_id = _project(api, key)["id"]

    def save(content: str, prompt_type: str, **fields: Any) -> Any:
        body = {"project_id": project_id, "content": content, "type": prompt_type, **fields}
        return api.post("/v1/prompts", json=body, headers=bearer(key))

    style = save("Write tests first.", "conventions", is_reusable=True).json()
    first = save("Build the shop.", "task", components=[style["id"]]).json()
    second = save("Build the shop, with a cart.", "task", components=[style["id"]]).json()
    assert (first["version"], second["version"], second["parent_id"]) == (1, 2, first["id"])
    assert second["composed"] == "Write tests first.\n\nBuild the shop, with a cart."
    assert [v["version"] for v in second["versions"]] == [2, 1]

    shown = api.get(f"/v1/prompts/{second['id']}", headers=bearer(key)).json()
    assert shown["composed"] == second["composed"] and shown["components"][0]["version"] == 1
    listed = api.get(f"/v1/prompts?project_id={project_id}&type=task", headers=bearer(key))
    assert [p["version"] for p in listed.json()["items"]] == [2, 1]

    refused = problem(
        api.patch(f"/v1/prompts/{first['id']}", json={"content": "x"}, headers=bearer(key)), 405
    )
    assert "POST /v1/prompts" in refused["detail"]
    not_reusable = save("x", "task", components=[first["id"]])
    assert "not a reusable prompt" in problem(not_reusable, 422)["detail"]
    problem(save("   ", "task"), 422)
    problem(save("x", "task", project_id=str(uuid.uuid4())), 404)


def test_a_chat_session_takes_user_messages_while_active(
    api: TestClient, engine: sa.Engine, key: str
) -> None:
    card = _card(api, key, _project(api, key)["id"], "chat about it")
    created = api.post(
        "/v1/chat-sessions",
        json={"board_task_id": card["id"], "ai_model_used": "m"},
        headers=bearer(key),
    )
    assert created.status_code == 201 and created.json()["status"] == "active"
    path = f"/v1/chat-sessions/{created.json()['id']}"
    for text in ("hello", "add a cart"):
        added = api.post(
            f"{path}/messages", json={"role": "user", "content": text}, headers=bearer(key)
        )
        assert added.status_code == 201, added.text
    messages = api.get(path, headers=bearer(key)).json()["messages"]
    assert [(m["role"], m["content"]) for m in messages] == [
        ("user", "hello"),
        ("user", "add a cart"),
    ]
    problem(
        api.post(
            f"{path}/messages", json={"role": "assistant", "content": "x"}, headers=bearer(key)
        ),
        422,
    )
    listed = api.get(f"/v1/chat-sessions?board_task_id={card['id']}", headers=bearer(key))
    assert [s["id"] for s in listed.json()["items"]] == [created.json()["id"]]
    assert (
        api.get(f"/v1/board-tasks/{card['id']}", headers=bearer(key)).json()["chat_session_count"]
        == 1
    )

    with engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE chat_sessions SET status = 'completed' WHERE id = :id"),
            {"id": created.json()["id"]},
        )
    ended = api.post(f"{path}/messages", json={"role": "user", "content": "x"}, headers=bearer(key))
    assert "POST /v1/chat-sessions" in problem(ended, 409, "session_ended")["detail"]
    assert len(api.get(path, headers=bearer(key)).json()["messages"]) == 2
    problem(
        api.post(
            "/v1/chat-sessions", json={"board_task_id": str(uuid.uuid4())}, headers=bearer(key)
        ),
        404,
    )


def test_commits_are_listed_and_read_but_not_posted(
    api: TestClient, engine: sa.Engine, key: str
) -> None:
    project_id = _project(api, key)["id"]
    card = _card(api, key, project_id, "cart")
    tenant_id = ensure_tenant(engine, "acme")
    with tenant_scope(tenant_id), engine.begin() as connection:
        card_id = uuid.UUID(card["id"])
        move_card(connection, card_id, BoardTaskStatus.IN_PROGRESS)
        move_card(connection, card_id, BoardTaskStatus.REVIEW)
        written = write_commit(
            connection,
            board_task_id=card_id,
            commit_type=CommitType.FEAT,
            message="feat: add a cart",
            changes={"files": ["cart.py"]},
            model="m",
            author="AI System",
        )
    for query in (f"project_id={project_id}", f"board_task_id={card['id']}"):
        listed = api.get(f"/v1/commits?{query}", headers=bearer(key)).json()["items"]
        assert [c["id"] for c in listed] == [str(written.id)]
    shown = api.get(f"/v1/commits/{written.id}", headers=bearer(key)).json()
    assert (shown["type"], shown["message"], shown["changes"]) == (
        "feat",
        "feat: add a cart",
        {"files": ["cart.py"]},
    )
    problem(api.post("/v1/commits", json={}, headers=bearer(key)), 405)
    problem(api.get("/v1/commits/not-a-uuid", headers=bearer(key)), 422)
