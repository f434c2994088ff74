"""The run pages over HTTP (``worker.inbox.run_pages``): the API app against the real
PostgreSQL as the runtime role, people signed in through the inbox's own sign-in form, and
runs driven in this process so the pages draw what real runs left."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from tests.support.agents import add_agent
from tests.support.people import add_member
from tests.support.publisher import RecordingPublisher
from tests.support.runs import (
    approve_and_finish,
    local_runtime,
    run_to_gate,
    start_gated_workflow,
    submit,
)
from worker.agents.runner import execute_task
from worker.agents.runtime import Runtime
from worker.agents.tools import ToolContext, ToolRegistry
from worker.api.app import create_api
from worker.core.settings import Settings
from worker.security.users import set_password

PASSWORD = "correct horse battery staple"
MEMBER = "mia.member@acme.test"
APPROVER = "adam.approver@acme.test"
OUTSIDER = "olga@globex.test"


@pytest.fixture
def runtime(database_url: str) -> Iterator[Runtime]:
    registry = ToolRegistry()

    @registry.tool
    def lookup_venues(context: ToolContext, city: str) -> str:
        """Look up venues in a city."""
        return f"venues in {city}: Centro, Arena"

    with local_runtime(database_url, registry) as (runtime, _):
        yield runtime


@pytest.fixture
def client(
    runtime_database_url: str, runtime_engine: sa.Engine, engine: sa.Engine, broker_url: str
) -> Iterator[TestClient]:
    for tenant, email, role in (
        ("acme", MEMBER, "member"),
        ("globex", OUTSIDER, "owner"),
    ):
        add_member(engine, tenant, email, role)
        with engine.begin() as connection:
            set_password(connection, email, PASSWORD)
    settings = Settings(
        database_url=runtime_database_url, broker_url=broker_url, session_secret="s" * 32
    )
    with TestClient(create_api(settings, runtime_engine, RecordingPublisher())) as client:
        yield client


def _sign_in(client: TestClient, email: str) -> None:
    page = client.get("/inbox/sign-in")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token, page.text
    signed = client.post(
        "/inbox/sign-in",
        data={"csrf_token": token.group(1), "email": email, "password": PASSWORD},
        follow_redirects=False,
    )
    assert signed.status_code == 303, signed.text


def _bars(html: str) -> list[str]:
    """Each drawn bar's kind, in order."""
    return re.findall(r'data-testid="bar" data-kind="([a-z]+)"', html)


def _task_with_a_tool(engine: sa.Engine, runtime: Runtime) -> uuid.UUID:
    add_agent(engine, "scout", tools=["lookup_venues"])
    task_id = submit(engine, "scout")
    execute_task(runtime, task_id)
    return task_id


def test_a_signed_out_browser_is_sent_to_sign_in_and_back(
    client: TestClient, engine: sa.Engine, runtime: Runtime
) -> None:
    task_id = _task_with_a_tool(engine, runtime)

    page = client.get(f"/runs/tasks/{task_id}", follow_redirects=False)

    assert page.status_code == 303
    assert page.headers["location"] == f"/inbox/sign-in?next=/runs/tasks/{task_id}"
    polled = client.get(
        f"/runs/tasks/{task_id}/timeline.json", headers={"Accept": "application/json"}
    )
    assert polled.status_code == 401
    assert "sign in again" in polled.json()["detail"]


def test_a_member_with_no_role_sees_the_task_with_a_bar_per_step(
    client: TestClient, engine: sa.Engine, runtime: Runtime
) -> None:
    task_id = _task_with_a_tool(engine, runtime)
    _sign_in(client, MEMBER)

    page = client.get(f"/runs/tasks/{task_id}")

    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert _bars(page.text) == ["llm", "tool", "llm"]
    assert 'data-final="true"' in page.text
    assert 'data-testid="run-status">SUCCEEDED<' in page.text
    assert "lookup_venues" in page.text
    with engine.connect() as connection:
        tokens = connection.execute(
            sa.text("SELECT prompt_tokens + completion_tokens FROM agent_runs WHERE task_id = :t"),
            {"t": task_id},
        ).scalar_one()
    assert f'data-testid="run-tokens">{tokens:,}<' in page.text
    assert page.text.count('data-testid="event"') >= 5  # start, 2 LLM calls, a tool, the end


def test_the_json_twin_follows_an_execution_until_it_is_final(
    client: TestClient, engine: sa.Engine, runtime: Runtime
) -> None:
    execution_id = start_gated_workflow(engine, APPROVER)
    draft_task = run_to_gate(engine, runtime, execution_id)
    _sign_in(client, MEMBER)

    page = client.get(f"/runs/executions/{execution_id}")
    waiting = client.get(f"/runs/executions/{execution_id}/timeline.json").json()

    assert page.status_code == 200
    assert 'data-final="false"' in page.text
    assert f'data-poll="/runs/executions/{execution_id}/timeline.json"' in page.text
    assert waiting["timeline"]["final"] is False
    assert [b["label"] for b in waiting["timeline"]["bars"]] == ["draft", "gate"]
    assert waiting["timeline"]["bars"][1]["end"] is None
    assert _bars(waiting["html"]) == ["step", "step"]

    approve_and_finish(engine, runtime, execution_id, APPROVER)
    done = client.get(f"/runs/executions/{execution_id}/timeline.json").json()

    assert done["timeline"]["final"] is True
    assert done["timeline"]["status"] == "completed"
    assert [b["label"] for b in done["timeline"]["bars"]] == ["draft", "gate", "publish"]
    assert _bars(done["html"]) == ["step", "step", "step"]
    assert f'href="/runs/tasks/{draft_task}"' in done["html"]  # a step links to its task's page
    with engine.connect() as connection:
        approval_id = connection.execute(sa.text("SELECT id FROM approvals")).scalar_one()
    assert f'href="/inbox/approvals/{approval_id}"' in done["html"]  # the gate to its approval
    draft_page = client.get(f"/runs/tasks/{draft_task}")
    assert f'href="/runs/executions/{execution_id}"' in draft_page.text


def test_anyone_outside_the_tenant_gets_the_same_404_as_for_no_run(
    client: TestClient, engine: sa.Engine, runtime: Runtime
) -> None:
    task_id = _task_with_a_tool(engine, runtime)
    _sign_in(client, OUTSIDER)  # the owner of another tenant

    for path in (
        f"/runs/tasks/{task_id}",
        f"/runs/tasks/{uuid.uuid4()}",
        f"/runs/executions/{task_id}",
        "/runs/tasks/not-a-uuid",
    ):
        page = client.get(path)
        assert page.status_code == 404, path
        assert "Run not found" in page.text
        assert "lookup_venues" not in page.text
    polled = client.get(f"/runs/tasks/{task_id}/timeline.json")
    assert polled.status_code == 404
    assert polled.headers["content-type"].startswith("application/problem+json")
    assert "member" in polled.json()["detail"]
