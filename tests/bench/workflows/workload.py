"""What the workflow scenarios run: the bench agent, the workflows of (w1)/(w2) and (w3), tenants
set up to run them, and the client that starts their executions."""

from __future__ import annotations

import uuid
from typing import Any

from models.db import create_sync_engine
from tests.bench.scenarios.context import AGENT_TOOLS, Context
from tests.bench.services import unique
from tests.bench.workflows.probes import tenant_id_of
from tests.support.agents import add_agent
from tests.support.people import add_member
from tests.support.workflows import add_workflow, approval_gate
from worker.client import AgentWorkerClient
from worker.core.settings import Settings
from worker.durable.publishing import CeleryPublisher

AGENT = "bench-agent"
STEP_INPUT = "What time is it?"
# A gate cannot be a workflow's first step: advance() moves a new (PENDING) execution straight
# to AWAITING_APPROVAL, which EXECUTION (worker/durable/states.py) does not allow, so the
# advance raises InvalidTransition and the execution stays PENDING. A condition step that
# always holds (no worker, no LLM, same transaction) first moves it to RUNNING; its rows are
# reported apart.
LEAD_STEP = "start"
GATED_STEPS = [
    {"key": LEAD_STEP, "kind": "condition", "if": "{{ execution.id }}", "exists": True},
    approval_gate("gate"),
    {"key": "work", "kind": "agent", "agent": AGENT, "input": STEP_INPUT},
]
THREE_STEPS = [
    {"key": f"step_{n}", "kind": "agent", "agent": AGENT, "input": f"{STEP_INPUT} (step {n})"}
    for n in (1, 2, 3)
]


def workflow_client(ctx: Context, app: Any) -> AgentWorkerClient:
    """A client on its own engine that publishes through ``app``; close it when done."""
    engine = create_sync_engine(ctx.database.url)
    return AgentWorkerClient(engine, CeleryPublisher(app), Settings(database_url=ctx.database.url))


def tenant_with_approver(
    ctx: Context, name: str, steps: list[dict[str, Any]]
) -> tuple[str, uuid.UUID, str]:
    """A tenant with the bench agent, the workflow ``name`` and one approver: slug, id, email."""
    slug = unique(f"bench-{name}")
    add_agent(ctx.database.engine, AGENT, tools=AGENT_TOOLS, tenant=slug)
    add_workflow(ctx.database.engine, name, steps, tenant=slug)
    approver = f"approver@{slug}.bench"
    add_member(ctx.database.engine, slug, approver, "approver")
    return slug, tenant_id_of(ctx.database, slug), approver


def start_executions(
    client: AgentWorkerClient, tenant: str, workflow: str, count: int
) -> list[uuid.UUID]:
    """``count`` executions of ``workflow``, each with its own input."""
    return [
        client.start_workflow(tenant=tenant, workflow=workflow, input={"request": number})
        for number in range(count)
    ]
