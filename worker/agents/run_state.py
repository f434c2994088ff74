"""The state of one agent run while a worker drives it, and how a drive can end."""

from __future__ import annotations

import math
import time
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from worker.agents.budgets import Spend
from worker.agents.definitions import AgentDefinition
from worker.agents.runtime import Runtime
from worker.core.errors import AgentWorkerError
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

    hands_back = True  # not a failure of this run's spans (worker.core.tracing)


class RunTimedOut(AgentWorkerError):
    """The run went past its deadline; it fails ``timed_out``."""

    code = "timed_out"


class AwaitingApproval(Exception):
    """The run waits for a person's decision; the task has been parked, holding no worker."""

    hands_back = True


@dataclass
class RunState:
    id: uuid.UUID
    messages: list[dict[str, Any]]
    llm_calls: int
    model: str
    #: Tokens (prompt + completion) and cost spent so far, over every attempt of the run.
    tokens: int = 0
    cost: Decimal = Decimal(0)
    #: A fork's steps copied from its parent (``agent_runs.forked_at_step``): they count
    #: towards ``max_steps``, as the model calls they were; ``llm_calls`` are the run's own.
    steps_before: int = 0

    @property
    def steps_taken(self) -> int:
        """Model calls of the conversation so far, the parent's copied ones included."""
        return self.steps_before + self.llm_calls

    def spend(self) -> Spend:
        return Spend(self.llm_calls, self.tokens, self.cost)


@dataclass
class ActiveRun:
    runtime: Runtime
    task: ClaimedTask
    agent: AgentDefinition
    provider: ProviderConfig
    state: RunState
    scope: records.Scope
    pending_metrics: list[dict[str, Any]] = field(default_factory=list)
    #: ``time.monotonic()`` past which this drive of the run stops (its timeout from the
    #: claim: time parked waiting for a person does not count).
    deadline: float = math.inf

    def check_deadline(self) -> None:
        """Raise ``RunTimedOut`` once the deadline has passed (at every checkpoint)."""
        if time.monotonic() >= self.deadline:
            raise RunTimedOut(
                f"the run did not finish within its timeout "
                f"({self.timeout_seconds():g} s); raise timeout_seconds in the agent's "
                "configuration or AGENTWORKER_RUN_TIMEOUT_SECONDS"
            )

    def timeout_seconds(self) -> float:
        configured = self.agent.configuration.timeout_seconds
        return configured if configured is not None else self.runtime.settings.run_timeout_seconds

    def tool_timeout_seconds(self) -> float:
        """How long one tool call may take: its own bound, and never past the deadline."""
        configured = self.agent.configuration.tool_timeout_seconds
        bound = configured if configured is not None else self.runtime.settings.tool_timeout_seconds
        return max(0.0, min(bound, self.deadline - time.monotonic()))
