"""The fault campaign's cases (tests/e2e/test_fault_campaign.py): each fault point for each
kind of work that reaches it, and the faults of the services around the workers; and what a
case found (``CaseResult``)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.chaos import workload as work
from worker.durable import faults

#: Points every agent run meets.
AGENT_POINTS = (
    faults.AFTER_TASK_CLAIMED,
    faults.AFTER_LLM_REPLY_RECEIVED,
    faults.AFTER_LLM_CALL_PERSISTED,
    faults.AFTER_TOOL_STARTED,
    faults.AFTER_TOOL_RETURNED,
    faults.AFTER_TOOL_RESULT_PERSISTED,
    faults.AFTER_STEP_PERSISTED,
)
TOOL_POINTS = (
    faults.AFTER_TOOL_STARTED,
    faults.AFTER_TOOL_RETURNED,
    faults.AFTER_TOOL_RESULT_PERSISTED,
)
WORKFLOW_POINTS = (*AGENT_POINTS, faults.AFTER_ADVANCE_COMMITTED)
#: The points each kind of work reaches.
REACHES: dict[str, tuple[str, ...]] = {
    work.AGENT: AGENT_POINTS,
    work.AGENT_ONCE: TOOL_POINTS,
    **{kind: (*WORKFLOW_POINTS, faults.AFTER_DECISION_COMMITTED) for kind in work.GATE_KINDS},
    work.PARALLEL: WORKFLOW_POINTS,
    work.CONDITION: WORKFLOW_POINTS,
}
FAULTS = (
    "messages_lost",
    "delivered_twice",
    "postgres_restart",
    "redis_restart",
    "llm_429",
    "llm_500",
    "llm_timeout",
    "llm_reset",
)


@dataclass(frozen=True)
class Case:
    name: str
    kind: str | None = None  # None: every kind at once
    point: str | None = None
    fault: str | None = None

    @property
    def after_the_gate(self) -> bool:
        """The kill is to land past the gate (a first worker takes the work up to it)."""
        return self.kind in work.GATE_KINDS and self.point != faults.AFTER_DECISION_COMMITTED


def cases() -> list[Case]:
    found = [
        Case(f"{kind}-{point}", kind=kind, point=point)
        for kind, points in REACHES.items()
        for point in points
    ]
    return found + [Case(fault, fault=fault) for fault in FAULTS]


@dataclass
class CaseResult:
    case: Case
    violations: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    logs: str = ""
    #: What must hold once the work has ended, besides the invariants: None or a problem.
    checks: list[Callable[[], str | None]] = field(default_factory=list)
    timeline: list[tuple[str, float]] = field(default_factory=list)

    def mark(self, moment: str) -> None:
        self.timeline.append((moment, time.monotonic()))

    def report(self) -> str:
        lines = [
            f"case {self.case.name}: {len(self.violations)} violation(s) in {self.seconds:.1f} s"
        ]
        lines += [f"  {v}" for v in self.violations]
        lines += [f"  note: {n}" for n in self.notes]
        if self.timeline:
            start = self.timeline[0][1]
            lines.append(
                "  timeline: " + ", ".join(f"{m} {t - start:.1f} s" for m, t in self.timeline)
            )
        return "\n".join(lines) + ("\n" + self.logs if self.violations else "")
