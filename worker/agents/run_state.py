"""The state of one agent run while a worker drives it, and how a drive can end."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from worker.agents.definitions import AgentDefinition
from worker.agents.runtime import Runtime
from worker.durable import records
from worker.durable.leases import ClaimedTask
from worker.llm.gateway import ProviderConfig


@dataclass(frozen=True)
class Outcome:
    task_id: uuid.UUID
    status: str  # succeeded | failed | deferred | skipped | abandoned
    detail: str = ""


class LostLease(Exception):
    """The task was cancelled or taken over while this worker was away from the database."""


class AwaitingApproval(Exception):
    """The run waits for a person's decision; the task has been parked, holding no worker."""


@dataclass
class RunState:
    id: uuid.UUID
    messages: list[dict[str, Any]]
    llm_calls: int
    model: str


@dataclass
class ActiveRun:
    runtime: Runtime
    task: ClaimedTask
    agent: AgentDefinition
    provider: ProviderConfig
    state: RunState
    scope: records.Scope
    pending_metrics: list[dict[str, Any]] = field(default_factory=list)
