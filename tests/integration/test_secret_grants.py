"""Secrets a model cannot reach (issue 12, item 6): a reference is resolved only if the
submitter passed it or the agent's configuration names it, ``env:`` secrets only for a tenant
granted them, and a resolved value is concealed from the model and from every row.

Each run is driven in this process against real PostgreSQL and the local LLM server, whose
``/_tool_arguments`` scripts what the model writes in its tool calls (as a model following a
prompt injection would).
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from tests.support.agents import add_agent, ensure_tenant
from tests.support.local_llm import admin
from tests.support.publisher import RecordingPublisher
from tests.support.row_scan import assert_in_no_row, rows_containing
from tests.support.stack import ROOT
from worker.agents.runner import execute_task
from worker.agents.runtime import Runtime, build_runtime
from worker.agents.submission import create_task
from worker.agents.tools import ToolContext, ToolRegistry
from worker.core.contract import RunTaskRequest
from worker.core.settings import Settings
from worker.dev.llm_server import LocalLLMServer
from worker.security.encryption import SecretBox, generate_key
from worker.security.secret_refs import store_tenant_secret

KEY = generate_key()
TENANT_SECRET = "crm-token-" + uuid.uuid4().hex
ENV_SECRET = "env-token-" + uuid.uuid4().hex


class Received(list[str]):
    """The tokens the tool was given."""


@pytest.fixture
def received() -> Received:
    return Received()


@pytest.fixture
def llm() -> Iterator[LocalLLMServer]:
    with LocalLLMServer() as server:
        yield server


@pytest.fixture
def runtime(database_url: str, llm: LocalLLMServer, received: Received) -> Iterator[Runtime]:
    registry = ToolRegistry()

    @registry.tool
    def crm_lookup(context: ToolContext, token: str) -> dict[str, Any]:
        """Look a customer up in the CRM (echoes its token, as a careless tool might)."""
        received.append(token)
        return {"echo": token, "deep": [{"note": f"used {token} to log in", token: "as a key"}]}

    settings = Settings(
        database_url=database_url, openai_base_url=llm.base_url, encryption_keys=(KEY,)
    )
    runtime = build_runtime(settings, RecordingPublisher(), tools=registry)
    try:
        yield runtime
    finally:
        runtime.close()


@pytest.fixture(autouse=True)
def _secrets(engine: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    tenant_id = ensure_tenant(engine)
    with engine.begin() as connection:
        store_tenant_secret(connection, SecretBox((KEY,)), tenant_id, "crm", TENANT_SECRET)
    monkeypatch.setenv("AGENTWORKER_SECRET_CRM", ENV_SECRET)


def _run(
    runtime: Runtime,
    llm: LocalLLMServer,
    *,
    model_writes: str,
    input: str | dict[str, Any] = "look up ada",
    agent_secrets: tuple[str, ...] = (),
) -> uuid.UUID:
    """Submit a task whose model calls crm_lookup with ``{"$secret": model_writes}``."""
    name = "crm-" + uuid.uuid4().hex[:6]
    model = add_agent(runtime.engine, name, tools=["crm_lookup"], secrets=list(agent_secrets))
    admin(
        llm,
        "POST",
        "/_tool_arguments",
        {"model": model, "arguments": {"token": {"$secret": model_writes}}},
    )
    with runtime.engine.begin() as connection:
        task_id = create_task(
            connection,
            runtime.settings,
            RunTaskRequest(tenant="acme", agent=name, input=input),
            idempotency_key=None,
        ).task_id
    execute_task(runtime, task_id)
    return task_id


def _tool_row(engine: sa.Engine, task_id: uuid.UUID) -> sa.Row[Any]:
    with engine.connect() as connection:
        return connection.execute(
            sa.text(
                "SELECT a.status, a.error_message, "
                "  (SELECT e.data FROM event_logs e WHERE e.task_id = a.task_id "
                "     AND e.event_type = 'TOOL_RESULT') AS event, "
                "  (SELECT string_agg(m.message::text, ', ' ORDER BY m.seq) FROM agent_runs r "
                "     JOIN agent_run_messages m ON m.run_id = r.id WHERE r.task_id = a.task_id) "
                "     AS messages, "
                "  (SELECT t.status FROM tasks t WHERE t.id = a.task_id) AS task_status "
                "FROM action_logs a WHERE a.task_id = :t"
            ),
            {"t": task_id},
        ).one()


def test_a_secret_reference_the_model_wrote_is_refused(
    runtime: Runtime, llm: LocalLLMServer, engine: sa.Engine, received: Received
) -> None:
    task_id = _run(runtime, llm, model_writes="tenant:crm")

    row = _tool_row(engine, task_id)
    assert received == [], "the tool must not run with a reference nobody granted"
    assert row.status == "failure"
    assert "'tenant:crm' is not granted to this task" in row.error_message
    assert row.event["status"] == "failure" and "not granted" in row.event["error"]
    assert "error: secret reference 'tenant:crm' is not granted" in row.messages  # model told
    assert row.task_status == "SUCCEEDED"  # a tool error is the model's to handle
    assert_in_no_row(engine, TENANT_SECRET)


def test_a_reference_the_submitter_passed_is_resolved_and_concealed_everywhere(
    runtime: Runtime, llm: LocalLLMServer, engine: sa.Engine, received: Received
) -> None:
    task_id = _run(
        runtime,
        llm,
        model_writes="tenant:crm",
        input={"customer": "ada", "crm": {"$secret": "tenant:crm"}},
    )

    row = _tool_row(engine, task_id)
    assert received == [TENANT_SECRET]
    assert row.status == "success" and row.task_status == "SUCCEEDED"
    assert "[REDACTED]" in row.messages  # the model read the result, without the value
    assert_in_no_row(engine, TENANT_SECRET)


def test_a_reference_the_agents_configuration_names_is_resolved(
    runtime: Runtime, llm: LocalLLMServer, engine: sa.Engine, received: Received
) -> None:
    _run(runtime, llm, model_writes="tenant:crm", agent_secrets=("tenant:crm",))

    assert received == [TENANT_SECRET]
    assert_in_no_row(engine, TENANT_SECRET)


def _keys(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from worker.cli import main; main()", "keys", *args],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_an_env_secret_is_resolved_only_for_a_tenant_granted_it(
    runtime: Runtime,
    llm: LocalLLMServer,
    engine: sa.Engine,
    database_url: str,
    received: Received,
) -> None:
    refused = _run(runtime, llm, model_writes="env:CRM", agent_secrets=("env:CRM",))
    assert received == []
    assert "'env:CRM' is not granted to this tenant" in _tool_row(engine, refused).error_message

    granted = _keys(database_url, "grant-env-secret", "--tenant", "acme", "--name", "CRM")
    assert granted.returncode == 0, granted.stderr
    assert "may now resolve env:CRM" in granted.stdout
    _run(runtime, llm, model_writes="env:CRM", agent_secrets=("env:CRM",))
    assert received == [ENV_SECRET]

    revoked = _keys(database_url, "revoke-env-secret", "--tenant", "acme", "--name", "CRM")
    assert revoked.returncode == 0, revoked.stderr
    again = _run(runtime, llm, model_writes="env:CRM", agent_secrets=("env:CRM",))
    assert received == [ENV_SECRET]
    assert "not granted to this tenant" in _tool_row(engine, again).error_message
    assert_in_no_row(engine, ENV_SECRET)


def test_an_env_grant_is_per_tenant(
    runtime: Runtime,
    llm: LocalLLMServer,
    engine: sa.Engine,
    database_url: str,
    received: Received,
) -> None:
    ensure_tenant(engine, "globex")
    granted = _keys(database_url, "grant-env-secret", "--tenant", "globex", "--name", "CRM")
    assert granted.returncode == 0, granted.stderr

    refused = _run(runtime, llm, model_writes="env:CRM", agent_secrets=("env:CRM",))

    assert received == []
    assert "not granted to this tenant" in _tool_row(engine, refused).error_message


def test_the_row_scan_finds_a_stored_string(engine: sa.Engine) -> None:
    marker = "marker-" + uuid.uuid4().hex
    with engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE tenants SET metadata = jsonb_build_object('deep', CAST(:m AS text))"),
            {"m": marker},
        )
    assert rows_containing(engine, marker) == ["tenants.metadata (1 rows)"]
    with pytest.raises(AssertionError, match=r"tenants\.metadata"):
        assert_in_no_row(engine, marker)
