"""Secrets by reference: a tool gets the value, every record keeps only the reference."""

from __future__ import annotations

import json
import uuid
from typing import Any

import sqlalchemy as sa

from models import ActionStatus
from tests.support.agents import ensure_tenant
from worker.agents.tool_calls import ToolCallScope, run_tool_call
from worker.agents.tools import ToolContext, ToolRegistry
from worker.security.encryption import SecretBox, generate_key
from worker.security.secret_refs import (
    grant_env_secret,
    references_in,
    resolve_references,
    store_tenant_secret,
)

SECRET = "crm-token-" + uuid.uuid4().hex


def _call(
    engine: sa.Engine, arguments: dict[str, Any], box: SecretBox, environ: dict[str, str]
) -> tuple[Any, list[str]]:
    received: list[str] = []
    registry = ToolRegistry()

    @registry.tool
    def crm_lookup(context: ToolContext, token: str, customer: str) -> dict[str, str]:
        """Look a customer up in the CRM."""
        received.append(token)
        return {"customer": customer, "found": "yes"}

    tenant_id = ensure_tenant(engine)
    with engine.begin() as connection:
        task_id = connection.execute(
            sa.text("INSERT INTO tasks (tenant_id) VALUES (:t) RETURNING id"), {"t": tenant_id}
        ).scalar()
        run_id = connection.execute(
            sa.text(
                "INSERT INTO agent_runs (tenant_id, task_id, agent_name) VALUES (:t, :k, 'a') "
                "RETURNING id"
            ),
            {"t": tenant_id, "k": task_id},
        ).scalar()

    def resolve(value: Any) -> Any:
        with engine.connect() as connection:
            return resolve_references(
                value,
                connection=connection,
                tenant_id=tenant_id,
                box=box,
                granted=references_in(arguments),  # as if the submitter had passed them
                environ=environ,
            )

    scope = ToolCallScope(tenant_id, task_id, run_id, "a", {"crm_lookup"}, resolve)
    call = {"id": "call_1", "function": {"name": "crm_lookup", "arguments": json.dumps(arguments)}}
    context = ToolContext(
        tenant_id=tenant_id,
        task_id=task_id,
        agent_run_id=run_id,
        agent_name="a",
        session_factory=lambda: None,
    )
    return run_tool_call(engine, registry, scope, call, context), received


def test_a_tenant_secret_reference_reaches_the_tool_and_only_the_reference_is_recorded(
    engine: sa.Engine,
) -> None:
    box = SecretBox((generate_key(),))
    with engine.begin() as connection:
        store_tenant_secret(connection, box, ensure_tenant(engine), "crm", SECRET)

    outcome, received = _call(
        engine, {"token": {"$secret": "tenant:crm"}, "customer": "ada"}, box, {}
    )

    assert outcome.status == ActionStatus.SUCCESS, outcome.content
    assert received == [SECRET]
    recorded = outcome.action_log["request_payload"]
    assert SECRET not in json.dumps(recorded)
    assert recorded["customer"] == "ada"
    with engine.connect() as connection:
        stored = connection.execute(sa.text("SELECT provider_configs FROM tenants")).scalar()
    assert SECRET not in json.dumps(stored)


def test_an_environment_reference_reads_only_agentworker_secret_variables(
    engine: sa.Engine,
) -> None:
    box = SecretBox((generate_key(),))
    environ = {"AGENTWORKER_SECRET_CRM": SECRET, "DATABASE_URL": "postgresql://u:pw@db/x"}
    with engine.begin() as connection:
        tenant_id = ensure_tenant(engine)
        grant_env_secret(connection, tenant_id, "CRM")
        grant_env_secret(connection, tenant_id, "DATABASE_URL")

    allowed, received = _call(
        engine, {"token": {"$secret": "env:CRM"}, "customer": "ada"}, box, environ
    )
    refused, nothing = _call(
        engine, {"token": {"$secret": "env:DATABASE_URL"}, "customer": "ada"}, box, environ
    )

    assert received == [SECRET] and allowed.status == ActionStatus.SUCCESS
    assert nothing == [] and refused.status == ActionStatus.FAILURE
    assert "AGENTWORKER_SECRET_DATABASE_URL" in refused.content
