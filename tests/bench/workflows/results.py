"""The workflow figures and their targets: (w1)'s latency intervals per resolve mode, (w2)'s
footprint of executions waiting on approvals, (w3)'s executions and steps per second, each with
the JSON the report writes."""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tests.bench.scenarios.result import RunResult

TARGET_RESOLVE_P50_MS = 50.0
#: Issue 15: 200 approvals resolved back to back, decided -> next step started.
TARGET_BACK_TO_BACK_P95_MS = 200.0
#: Issue 15: a 3-step workflow's agent steps/s against plain tasks/s ((b), same processes).
TARGET_STEPS_OVER_TASKS = 0.8
TARGET_SLOTS_HELD = 0
TARGET_LIST_MS = 200.0

# (key, label): consecutive intervals of one approval, then the two end-to-end spans.
INTERVALS = (
    ("call_to_decided", "resolve call start -> approvals.decided_at"),
    ("decided_to_task_created", "decided_at -> next step's task row (tasks.created_at)"),
    ("task_created_to_claimed", "task row -> task claimed (tasks.started_at)"),
    ("claimed_to_run_started", "claimed -> agent run started (agent_runs.started_at)"),
    ("decided_to_run_started", "decided_at -> agent run started"),
    ("call_to_run_started", "resolve call start -> agent run started"),
    ("resolve_call", "resolve_approval call itself (client side)"),
)
HEADLINE = "decided_to_run_started"
# How each approval of a batch is resolved: after what the previous one started has finished,
# after its next step has started (and still runs), or right away.
MODES = {
    "idle": "each resolve once the previous execution had completed (nothing else running)",
    "paced": "each resolve once the previous approval's next step had started its agent run "
    "(which still runs alongside)",
    "back to back": "resolves one after the other without waiting",
}
TARGET_MODE = "paced"


def percentiles(values: Sequence[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None, "max": None}
    ordered = sorted(values)
    if len(ordered) == 1:
        return {"p50": ordered[0], "p95": ordered[0], "max": ordered[0]}
    cuts = statistics.quantiles(ordered, n=100, method="inclusive")
    return {"p50": cuts[49], "p95": cuts[94], "max": ordered[-1]}


def rounded(values: Mapping[str, float | None], digits: int = 2) -> dict[str, float | None]:
    return {k: None if v is None else round(v, digits) for k, v in values.items()}


@dataclass
class ResolveBatch:
    mode: str  # "paced" or "back to back"
    approvals: int
    seconds: float  # first resolve call start to last call end
    intervals: dict[str, list[float]]  # ms per approval, keyed as INTERVALS

    @property
    def summary(self) -> dict[str, dict[str, float | None]]:
        return {key: percentiles(self.intervals.get(key, [])) for key, _ in INTERVALS}

    def as_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "approvals": self.approvals,
            "resolve_seconds": round(self.seconds, 3),
            "resolves_per_second": round(self.approvals / self.seconds, 2)
            if self.seconds
            else None,
            "ms": {key: rounded(values) for key, values in self.summary.items()},
        }


@dataclass
class ResolveResult:
    concurrency: int
    batches: dict[str, ResolveBatch]  # keyed as MODES

    @property
    def p50_ms(self) -> float | None:
        return self.batches[TARGET_MODE].summary[HEADLINE]["p50"]

    @property
    def back_to_back_p95_ms(self) -> float | None:
        batch = self.batches.get("back to back")
        return None if batch is None else batch.summary[HEADLINE]["p95"]

    def as_json(self) -> dict[str, Any]:
        return {
            "concurrency": self.concurrency,
            "measure": "approvals.decided_at -> agent_runs.started_at of the next step",
            "target_mode": TARGET_MODE,
            **{mode.replace(" ", "_"): batch.as_json() for mode, batch in self.batches.items()},
        }


@dataclass
class WaitingResult:
    executions: int
    start_seconds: float  # first start_workflow call to the last execution awaiting approval
    approvers: int
    worker_active_max: int | None
    worker_reserved_max: int | None
    running_tasks: int  # every tenant
    tasks_of_these: int  # task rows of the waiting executions, any status
    worker_cpu_share: float | None  # of one CPU, while they wait
    slot_samples: int
    rows: dict[str, int]  # per table, rows added by the waiting executions
    lead_rows: dict[str, int]  # of which the leading condition step's (LEAD_STEP)
    bytes: dict[str, int]  # per table, pg_total_relation_size delta
    list_ms: list[float]
    list_rows: int
    list_statement_ms: float | None  # mean statement execution, pg_stat_statements
    cli_ms: list[float]
    cli_rows: int
    cli_startup_ms: list[float]

    @property
    def slots_held(self) -> int | None:
        if self.worker_active_max is None:
            return None
        return self.worker_active_max + self.running_tasks

    @property
    def list_median_ms(self) -> float:
        return statistics.median(self.list_ms)

    def per_execution(self, values: dict[str, int]) -> dict[str, float]:
        return {k: v / self.executions for k, v in values.items()}

    def as_json(self) -> dict[str, Any]:
        rows = self.per_execution(self.rows)
        size = self.per_execution(self.bytes)
        return {
            "executions": self.executions,
            "start_seconds": round(self.start_seconds, 3),
            "eligible_approvers": self.approvers,
            "slots": {
                "held": self.slots_held,
                "worker_active_tasks_max": self.worker_active_max,
                "worker_reserved_tasks_max": self.worker_reserved_max,
                "tasks_running_in_database": self.running_tasks,
                "task_rows_of_waiting_executions": self.tasks_of_these,
                "samples": self.slot_samples,
                "worker_cpu_share_of_one_cpu": None
                if self.worker_cpu_share is None
                else round(self.worker_cpu_share, 4),
            },
            "rows_per_execution": round(sum(rows.values()), 3),
            "rows_per_execution_by_table": {k: round(v, 3) for k, v in rows.items()},
            "of_which_lead_condition_step": {
                k: round(v, 3) for k, v in self.per_execution(self.lead_rows).items()
            },
            "bytes_per_execution": round(sum(size.values()), 1),
            "bytes_per_execution_by_table": {k: round(v, 1) for k, v in size.items()},
            "approvals_list": {
                "limit": 100,
                "rows": self.list_rows,
                "in_process_ms": rounded(
                    {
                        "median": self.list_median_ms,
                        "min": min(self.list_ms),
                        "p95": percentiles(self.list_ms)["p95"],
                        "max": max(self.list_ms),
                    }
                ),
                "calls": len(self.list_ms),
                "statement_exec_ms": None
                if self.list_statement_ms is None
                else round(self.list_statement_ms, 3),
                "cli_process_ms": {
                    "median": round(statistics.median(self.cli_ms), 1),
                    "runs": [round(v, 1) for v in self.cli_ms],
                    "rows": self.cli_rows,
                    "startup_median_ms": round(statistics.median(self.cli_startup_ms), 1),
                },
            },
        }


@dataclass
class StepsResult:
    run: RunResult  # tasks = executions; profile holds the workflow figures
    steps: int

    @property
    def executions_per_second(self) -> float:
        return self.run.per_second

    @property
    def steps_per_second(self) -> float:
        return self.run.per_second * self.steps

    def as_json(self, b: RunResult) -> dict[str, Any]:
        return {
            **self.run.as_json(),
            "agent_steps_per_execution": self.steps,
            "executions_per_second": round(self.executions_per_second, 2),
            "agent_steps_per_second": round(self.steps_per_second, 2),
            "executions_per_second_over_b_tasks_per_second": round(
                self.executions_per_second / b.per_second, 4
            ),
            "agent_steps_per_second_over_b_tasks_per_second": round(
                self.steps_per_second / b.per_second, 4
            ),
        }


@dataclass
class WorkflowResults:
    resolve: ResolveResult
    waiting: WaitingResult
    steps: StepsResult
    #: (b)'s tasks/s, which (w3)'s agent steps/s is held against.
    plain_tasks_per_second: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def targets(self) -> dict[str, dict[str, Any]]:
        slots = self.waiting.slots_held
        found: dict[str, dict[str, Any]] = {
            "resolve_p50_ms": {
                "value": None if self.resolve.p50_ms is None else round(self.resolve.p50_ms, 2),
                "target": f"< {TARGET_RESOLVE_P50_MS:g}",
                "pass": self.resolve.p50_ms is not None
                and self.resolve.p50_ms < TARGET_RESOLVE_P50_MS,
            },
            "slots_held_while_waiting": {
                "value": slots,
                "target": f"= {TARGET_SLOTS_HELD}",
                "pass": slots == TARGET_SLOTS_HELD,
            },
            "approvals_list_ms": {
                "value": round(self.waiting.list_median_ms, 2),
                "target": f"< {TARGET_LIST_MS:g}",
                "pass": self.waiting.list_median_ms < TARGET_LIST_MS,
            },
        }
        back_to_back = self.resolve.back_to_back_p95_ms
        if back_to_back is not None:
            found["resolve_back_to_back_p95_ms"] = {
                "value": round(back_to_back, 2),
                "target": f"< {TARGET_BACK_TO_BACK_P95_MS:g}",
                "pass": back_to_back < TARGET_BACK_TO_BACK_P95_MS,
            }
        if self.plain_tasks_per_second:
            ratio = self.steps.steps_per_second / self.plain_tasks_per_second
            found["steps_over_plain_tasks"] = {
                "value": round(ratio, 3),
                "target": f">= {TARGET_STEPS_OVER_TASKS:g}",
                "pass": ratio >= TARGET_STEPS_OVER_TASKS,
            }
        return found

    def as_json(self, b: RunResult) -> dict[str, Any]:
        return {
            "w1_resolve_to_next_step": self.resolve.as_json(),
            "w2_waiting_on_approvals": self.waiting.as_json(),
            "w3_three_step_workflow": self.steps.as_json(b),
            "targets": self.targets(),
        }
