"""``/v1/ai-models`` and ``/v1/settings`` on the real PostgreSQL through the runtime role: a
provider key is stored encrypted and only ever shown masked; system-wide rows are listed but
read-only; settings are checked by their key's owner and a bulk update is all or nothing.
Writes need the ``admin`` scope."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from models import AIModel, AuditLog, SystemSetting
from tests.support import api_calls
from tests.support.api_calls import BOX, bearer, problem, tenant_key
from worker.api.resources.ai_models import mask
from worker.orchestrator import DEFAULTS

#: The shared fixtures: the real app over the runtime role, and what it publishes.
api = api_calls.api
publisher = api_calls.publisher
SECRET = "sk-proj-THIS-IS-SECRET-4f9Qwxyz"


@pytest.fixture
def admin(engine: sa.Engine) -> str:
    return tenant_key(engine, scopes=("admin",))


def _model(api: TestClient, key: str, **fields: Any) -> Any:
    body = {"name": "fast", "provider": "openai", "model": "gpt-4o-mini", **fields}
    return api.post("/v1/ai-models", json=body, headers=bearer(key))


def test_the_mask_shows_a_prefix_and_the_last_four_characters_only() -> None:
    assert mask("sk-abcdefghijklmnop") == "sk-…mnop"
    assert mask("abcdefghijklmnop") == "…mnop"
    assert mask("short-key") == "…"


def test_an_ai_model_key_is_stored_encrypted_and_only_shown_masked(
    api: TestClient, engine: sa.Engine, admin: str
) -> None:
    created = _model(api, admin, api_key=SECRET, usage_type="interview", config={"t": 1})
    assert created.status_code == 201, created.text
    model_id = created.json()["id"]
    path = f"/v1/ai-models/{model_id}"
    shown = api.get(path, headers=bearer(admin))
    listed = api.get("/v1/ai-models", headers=bearer(admin))
    assert shown.json()["api_key_masked"] == "sk-…wxyz" and shown.json()["has_api_key"]
    assert listed.json()["items"][0]["usage_type"] == "interview"

    changed = api.patch(
        path, json={"is_active": False, "api_key": "sk-another-key-0000"}, headers=bearer(admin)
    )
    assert (changed.json()["is_active"], changed.json()["api_key_masked"]) == (False, "sk-…0000")
    for response in (created, shown, listed, changed):
        assert SECRET not in response.text and "0000" not in response.text.replace("…0000", "")
    with engine.connect() as connection:
        stored = connection.execute(
            sa.select(AIModel.api_key_encrypted).where(AIModel.id == model_id)
        ).scalar_one()
        audits = connection.execute(
            sa.select(AuditLog.action, AuditLog.changes).where(AuditLog.resource_id == model_id)
        ).all()
    assert stored is not None
    assert BOX.decrypt(stored) == "sk-another-key-0000" and SECRET.encode() not in stored
    assert [a.action for a in audits] == ["ai_model.created", "ai_model.updated"]
    assert SECRET not in str(audits) and all(a.changes["api_key_set"] for a in audits)

    problem(_model(api, admin), 409, "already_exists")  # one "fast" per tenant
    assert api.delete(path, headers=bearer(admin)).status_code == 204
    problem(api.get(path, headers=bearer(admin)), 404)


def test_system_wide_models_are_listed_but_read_only(
    api: TestClient, engine: sa.Engine, admin: str
) -> None:
    with engine.begin() as connection:
        shared_id = connection.execute(
            sa.insert(AIModel)
            .values(
                tenant_id=None,
                name="shared",
                provider="openai",
                model="gpt-4o",
                api_key_encrypted=BOX.encrypt("sk-operator-secret-9999"),
            )
            .returning(AIModel.id)
        ).scalar_one()
    listed = api.get("/v1/ai-models", headers=bearer(admin)).json()["items"]
    assert [(m["name"], m["system_wide"]) for m in listed] == [("shared", True)]
    shown = api.get(f"/v1/ai-models/{shared_id}", headers=bearer(admin)).json()
    assert shown["api_key_masked"] is None and "9999" not in str(shown)
    path = f"/v1/ai-models/{shared_id}"
    problem(api.patch(path, json={"is_active": False}, headers=bearer(admin)), 403, "read_only")
    problem(api.delete(path, headers=bearer(admin)), 403, "read_only")
    with engine.connect() as connection:
        assert connection.execute(
            sa.select(AIModel.is_active).where(AIModel.id == shared_id)
        ).scalar_one()


def test_ai_models_and_settings_writes_need_the_admin_scope(
    api: TestClient, engine: sa.Engine
) -> None:
    submitter = tenant_key(engine, scopes=("read", "submit"))
    for response in (
        _model(api, submitter, api_key=SECRET),
        api.put("/v1/settings/x", json={"value": 1}, headers=bearer(submitter)),
        api.post("/v1/settings/bulk", json={"settings": {"x": 1}}, headers=bearer(submitter)),
    ):
        assert "'admin' scope" in problem(response, 403, "forbidden")["detail"]
    assert api.get("/v1/ai-models", headers=bearer(submitter)).status_code == 200


def _settings(api: TestClient, key: str) -> dict[str, dict[str, Any]]:
    response = api.get("/v1/settings", headers=bearer(key))
    assert response.status_code == 200, response.text
    return {entry["key"]: entry for entry in response.json()["settings"]}


def test_settings_show_defaults_system_values_and_the_tenants_overrides(
    api: TestClient, engine: sa.Engine, admin: str
) -> None:
    with engine.begin() as connection:
        connection.execute(
            sa.insert(SystemSetting).values(
                tenant_id=None, key="orchestrator.commit.author", value="Bot"
            )
        )
    before = _settings(api, admin)
    assert set(DEFAULTS) <= set(before)
    questions = before["orchestrator.interview.max_questions"]
    assert (questions["value"], questions["source"], questions["default"]) == (3, "default", 3)
    assert before["orchestrator.commit.author"]["source"] == "system"

    put = api.put(
        "/v1/settings/orchestrator.commit.author", json={"value": "Ada"}, headers=bearer(admin)
    )
    assert put.status_code == 200, put.text
    assert (put.json()["value"], put.json()["source"], put.json()["system_value"]) == (
        "Ada",
        "tenant",
        "Bot",
    )
    wrong_type = api.put(
        "/v1/settings/orchestrator.interview.max_questions",
        json={"value": "five"},
        headers=bearer(admin),
    )
    assert "takes a value of type int" in problem(wrong_type, 422, "invalid_setting")["detail"]
    unknown = api.put("/v1/settings/orchestrator.nope", json={"value": 1}, headers=bearer(admin))
    assert "known ones are" in problem(unknown, 422)["detail"]
    retention = api.put(
        "/v1/settings/retention.webhook_deliveries",
        json={"value": {"keep_days": 0}},
        headers=bearer(admin),
    )
    assert "keep_days" in problem(retention, 422, "invalid_setting")["detail"]
    free = api.put("/v1/settings/ui.theme", json={"value": {"dark": True}}, headers=bearer(admin))
    assert free.json()["value"] == {"dark": True}
    with engine.connect() as connection:
        shared = connection.execute(
            sa.select(SystemSetting.value).where(SystemSetting.tenant_id.is_(None))
        ).scalar_one()
    assert shared == "Bot"  # the system-wide row is not the tenant's to change


def test_a_bulk_update_with_one_bad_key_changes_nothing(
    api: TestClient, engine: sa.Engine, admin: str
) -> None:
    before = _settings(api, admin)
    bad = {
        "orchestrator.interview.max_questions": 5,
        "retention.webhook_deliveries": {"keep_days": 10},
        "retention.no_such_policy": {"keep_days": 10},
    }
    body = problem(
        api.post("/v1/settings/bulk", json={"settings": bad}, headers=bearer(admin)), 422
    )
    assert body["key"] == "retention.no_such_policy" and "no_such_policy" in body["detail"]
    assert _settings(api, admin) == before

    good = {k: v for k, v in bad.items() if k != "retention.no_such_policy"}
    done = api.post("/v1/settings/bulk", json={"settings": good}, headers=bearer(admin))
    assert done.status_code == 200, done.text
    after = {e["key"]: e for e in done.json()["settings"]}
    assert after["orchestrator.interview.max_questions"]["value"] == 5
    assert after["retention.webhook_deliveries"]["value"] == {"keep_days": 10}
    with engine.connect() as connection:
        keys = connection.execute(
            sa.select(AuditLog.resource_id).where(AuditLog.action == "setting.updated")
        ).scalars()
        assert sorted(str(key) for key in keys) == sorted(good)


def test_openapi_names_the_seed_schemas_and_every_resource_route(api: TestClient) -> None:
    schema = api.get("/openapi.json").json()
    for name in (
        "ProjectCreate",
        "ProjectUpdate",
        "ProjectWithRelations",
        "InterviewAddMessage",
        "PromptCreate",
        "TaskCreate",
        "TaskMove",
        "TaskWithRelations",
        "ChatSessionAddMessage",
        "CommitResponse",
        "AIModelDetailResponse",
        "SystemSettingsBulkUpdate",
    ):
        assert name in schema["components"]["schemas"], name
    assert {
        "/v1/projects/{project_id}": {"get", "patch", "delete"},
        "/v1/interviews/{interview_id}/messages": {"post"},
        "/v1/board-tasks/{task_id}/move": {"post"},
        "/v1/chat-sessions/{session_id}/messages": {"post"},
        "/v1/commits": {"get"},
        "/v1/ai-models/{model_id}": {"get", "patch", "delete"},
        "/v1/settings/bulk": {"post"},
    }.items() <= {path: set(methods) for path, methods in schema["paths"].items()}.items()
    detail = schema["components"]["schemas"]["AIModelDetailResponse"]["properties"]
    assert "api_key_masked" in detail and "api_key" not in detail
