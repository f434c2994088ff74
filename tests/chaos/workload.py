"""The kinds of work faults are thrown at, for the fault campaign and the soak: an agent task
whose tool has external effects, and workflows through a gate (approved; rejected, with a
``goto:`` back; left to expire, with a ``goto:`` back), a parallel step and a condition that
loops back once.

Every agent calls a tool of the test's sink (``tests.support.sink_tools``), so each kind
reaches every fault point of a tool with effects. With ``separate_models`` each kind gets
agents of its own, so per-model LLM counts belong to one kind's runs.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from tests.support.agents import add_agent
from tests.support.people import add_member
from tests.support.sink_tools import IDEMPOTENT_TOOL, ONCE_TOOL
from tests.support.workflows import add_workflow, approval_gate
from worker.agents.submission import create_task
from worker.client import AgentWorkerClient
from worker.core.contract import RunTaskRequest
from worker.core.settings import Settings
from worker.workflows.catalog import start_execution

AGENT = "agent"  # an agent task whose tool is idempotent at its service
AGENT_ONCE = "agent_once"  # an agent task whose tool must never run twice
APPROVED = "approved"
REJECTED = "rejected"  # rejected once (on_reject: goto:draft), then approved
EXPIRED = "expired"  # left to expire once (on_timeout: goto:draft), then approved
PARALLEL = "parallel"
CONDITION = "condition"  # loops back to its first step once

TASK_KINDS = (AGENT, AGENT_ONCE)
GATE_KINDS = (APPROVED, REJECTED, EXPIRED)
WORKFLOW_KINDS = (*GATE_KINDS, PARALLEL, CONDITION)
KINDS = (*TASK_KINDS, *WORKFLOW_KINDS)

TENANT = "acme"
APPROVER = "ada.approver@acme.test"
GATE = "review"
_numbers = itertools.count(1)


@dataclass(frozen=True)
class Job:
    kind: str
    #: "task" or "execution": which table ``id`` is in.
    table: str
    id: uuid.UUID
    submitted_at: float = field(default_factory=time.time)


@dataclass
class Workload:
    """What ``seed`` created: per kind, the agent (task kinds) or workflow to use, and every
    model an agent of it calls."""

    agents: dict[str, str] = field(default_factory=dict)
    workflows: dict[str, str] = field(default_factory=dict)
    models: dict[str, list[str]] = field(default_factory=dict)

    def all_models(self) -> list[str]:
        return [model for models in self.models.values() for model in models]

    def submit(self, client: AgentWorkerClient, kind: str, *, key: str | None = None) -> Job:
        """Submit one job of ``kind`` through the client (the row first, then its message)."""
        number = next(_numbers)
        if kind in self.agents:
            task_id = client.submit(
                tenant=TENANT,
                agent=self.agents[kind],
                input=f"Send notice {number} about the venue",
                idempotency_key=key,
            )
            return Job(kind, "task", task_id)
        execution_id = client.start_workflow(
            tenant=TENANT,
            workflow=self.workflows[kind],
            input={"kind": kind, "number": number},
            idempotency_key=key,
        )
        return Job(kind, "execution", execution_id)

    def commit_only(self, engine: sa.Engine, kind: str) -> Job:
        """Write the job's row as the client does, and never publish its message: a caller
        that crashed (or whose broker went away) between its commit and its publish."""
        number = next(_numbers)
        with engine.begin() as connection:
            if kind in self.agents:
                request = RunTaskRequest(
                    tenant=TENANT, agent=self.agents[kind], input=f"Send notice {number}"
                )
                task = create_task(connection, Settings(), request, idempotency_key=None)
                return Job(kind, "task", task.task_id)
            started = start_execution(
                connection,
                tenant=TENANT,
                workflow=self.workflows[kind],
                input={"kind": kind, "number": number},
                idempotency_key=None,
            )
        return Job(kind, "execution", started.execution_id)


def seed(
    engine: sa.Engine,
    kinds: Iterable[str] = KINDS,
    *,
    separate_models: bool = True,
    expires_in_seconds: int = 3600,
) -> Workload:
    """Tenant, approver, agents and workflows for ``kinds``. ``expires_in_seconds`` is the
    gate's expiry in the ``expired`` kind (the campaign makes it due itself, the soak waits)."""
    add_member(engine, TENANT, APPROVER, "approver")
    workload = Workload()
    shared: dict[str, str] = {}

    def agent(kind: str, role: str, tool: str = IDEMPOTENT_TOOL) -> str:
        name = f"{kind}_{role}" if separate_models else role
        if name not in shared:
            shared[name] = add_agent(engine, name, tools=[tool])
        workload.models.setdefault(kind, []).append(shared[name])
        return name

    for kind in kinds:
        if kind == AGENT:
            workload.agents[kind] = agent(kind, "courier")
        elif kind == AGENT_ONCE:
            workload.agents[kind] = agent(kind, "herald", ONCE_TOOL)
        else:
            steps = _steps(kind, agent, expires_in_seconds)
            name = f"{kind}_flow"
            add_workflow(engine, name, steps, tenant=TENANT)
            workload.workflows[kind] = name
    return workload


def _steps(kind: str, agent: Any, expires_in_seconds: int) -> list[dict[str, Any]]:
    def step(key: str, role: str, text: str) -> dict[str, Any]:
        return {"key": key, "kind": "agent", "agent": agent(kind, role), "input": text}

    if kind in GATE_KINDS:
        policy: dict[str, Any] = {"on_reject": "goto:draft"}
        if kind == EXPIRED:
            policy.update(on_timeout="goto:draft", expires_in_seconds=expires_in_seconds)
        return [
            step("draft", "writer", "Draft notice {{ input.number }}: {{ steps.review.output }}"),
            approval_gate(GATE, **policy),
            step("publish", "publisher", "Publish {{ steps.draft.output }}"),
        ]
    if kind == PARALLEL:
        return [
            {
                "key": "split",
                "kind": "parallel",
                "branches": [
                    step("left", "left", "Notify the venue {{ input.number }}"),
                    step("right", "right", "Notify the caterer {{ input.number }}"),
                ],
            },
            step("join", "closer", "Summarise {{ steps.split.output }}"),
        ]
    if kind == CONDITION:
        return [
            step("draft", "writer", "Draft notice {{ input.number }}"),
            {
                "key": "check",
                "kind": "condition",
                "if": "{{ steps.draft.attempt }}",
                "equals": 1,
                "then": "draft",
            },
            step("finish", "closer", "Finish {{ steps.draft.output }}"),
        ]
    raise ValueError(f"unknown kind of work {kind!r}; known: {', '.join(KINDS)}")
