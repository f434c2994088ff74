"""The workflows section, on the same broker and database as the other scenarios.

(w1) An approval's decision to the next step's start: executions of [approval gate, agent step]
wait on their gate; each approval is resolved through ``AgentWorkerClient.resolve_approval`` with
a real worker running, and the database's own timestamps give the latency: ``approvals.
decided_at`` (the deciding transaction), then the next step's ``tasks.created_at`` (the advance
that made its row), ``tasks.started_at`` (its claim) and ``agent_runs.started_at`` (its agent run).
Once paced (each resolve after the previous step's agent run started) and once back to back.

(w2) Many executions waiting on approvals: worker slots held, rows and bytes per execution, and
how long ``approvals list`` takes at that size, in-process and as the CLI process.

(w3) A workflow of three agent steps (the agent of (b)): executions/s and agent steps/s, against
(b)'s tasks/s at the same concurrency, publishing first and then starting the worker as (b) does.
"""

from __future__ import annotations

import functools
import json
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from models.db import create_sync_engine
from tests.bench import profile
from tests.bench.procs import (
    ROOT,
    BenchError,
    CpuSampler,
    LLMServerProcess,
    Worker,
    clean_env,
    cpu_seconds,
    log_tail,
    peak_rss_mib,
)
from tests.bench.scenarios import (
    AGENT_TOOLS,
    Context,
    RunResult,
    _delta,
    _epoch,
    _probes,
    _wait_done,
    worker_env,
)
from tests.bench.services import Database, unique
from tests.support.agents import add_agent
from tests.support.people import add_member
from tests.support.workflows import add_workflow, approval_gate
from worker.app import create_app
from worker.approvals.service import list_approvals
from worker.client import AgentWorkerClient
from worker.core.settings import Settings
from worker.dev.services import start_worker_process, stop_process, wait_for_worker
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
POLL_SECONDS = 0.005  # pacing only: the latencies come from the database's timestamps
LIST_CALLS = 15
CLI_RUNS = 3
SLOT_SAMPLES = 5

TARGET_RESOLVE_P50_MS = 50.0
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


def _rounded(values: Mapping[str, float | None], digits: int = 2) -> dict[str, float | None]:
    return {k: None if v is None else round(v, digits) for k, v in values.items()}


# --- results -----------------------------------------------------------------------------------


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
            "ms": {key: _rounded(values) for key, values in self.summary.items()},
        }


@dataclass
class ResolveResult:
    concurrency: int
    batches: dict[str, ResolveBatch]  # keyed as MODES

    @property
    def p50_ms(self) -> float | None:
        return self.batches[TARGET_MODE].summary[HEADLINE]["p50"]

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
                "in_process_ms": _rounded(
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
    extra: dict[str, Any] = field(default_factory=dict)

    def targets(self) -> dict[str, dict[str, Any]]:
        slots = self.waiting.slots_held
        return {
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

    def as_json(self, b: RunResult) -> dict[str, Any]:
        return {
            "w1_resolve_to_next_step": self.resolve.as_json(),
            "w2_waiting_on_approvals": self.waiting.as_json(),
            "w3_three_step_workflow": self.steps.as_json(b),
            "targets": self.targets(),
        }


# --- database probes (labelled bench_probe, rolled back: see profile.py) -----------------------


def _scalar(database: Database, sql: str, **params: Any) -> Any:
    with database.engine.connect() as connection:
        return connection.execute(sa.text(sql), params).scalar()


def _rows(database: Database, sql: str, **params: Any) -> list[sa.Row[Any]]:
    with database.engine.connect() as connection:
        return list(connection.execute(sa.text(sql), params))


def tenant_id_of(database: Database, slug: str) -> uuid.UUID:
    return uuid.UUID(
        str(_scalar(database, "SELECT id AS bench_probe FROM tenants WHERE slug = :s", s=slug))
    )


def executions_in(database: Database, tenant_id: uuid.UUID, *statuses: str) -> int:
    return int(
        _scalar(
            database,
            "SELECT count(*) AS bench_probe FROM ai_workflow_executions "
            "WHERE tenant_id = :t AND status = ANY(:s)",
            t=tenant_id,
            s=list(statuses),
        )
    )


def executions_finished(database: Database, tenant_id: uuid.UUID) -> int:
    return executions_in(database, tenant_id, "completed", "failed", "cancelled")


def run_started(database: Database, execution_id: uuid.UUID) -> bool:
    return bool(
        _scalar(
            database,
            "SELECT EXISTS (SELECT 1 FROM tasks t JOIN agent_runs r ON r.task_id = t.id "
            "WHERE t.workflow_execution_id = :e) AS bench_probe",
            e=execution_id,
        )
    )


def execution_done(database: Database, execution_id: uuid.UUID) -> bool:
    return bool(
        _scalar(
            database,
            "SELECT status IN ('completed', 'failed', 'cancelled') AS bench_probe "
            "FROM ai_workflow_executions WHERE id = :e",
            e=execution_id,
        )
    )


def execution_failures(database: Database, tenant_id: uuid.UUID) -> str:
    rows = _rows(
        database,
        "SELECT status, left(error_log::text, 300) AS error, count(*) AS bench_probe "
        "FROM ai_workflow_executions WHERE tenant_id = :t AND status <> 'completed' "
        "GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 5",
        t=tenant_id,
    )
    return "; ".join(f"{r.bench_probe} x {r.status} {r.error}" for r in rows) or "none"


def lead_step_rows(database: Database, tenant_id: uuid.UUID) -> dict[str, int]:
    """Rows written only because of the leading condition step (see LEAD_STEP): its step run,
    its two transitions' events, 'next step: gate' and the execution's 'running' event."""
    row = _rows(
        database,
        "SELECT (SELECT count(*) FROM ai_workflow_step_runs WHERE tenant_id = :t "
        "AND step_key = :k) AS step_runs, (SELECT count(*) FROM event_logs WHERE tenant_id = :t "
        "AND (data->>'step' = :k OR data->>'from' = :k "
        "OR (data->>'from' = 'pending' AND data->>'to' = 'running'))) AS events, "
        "1 AS bench_probe",
        t=tenant_id,
        k=LEAD_STEP,
    )[0]
    return {"ai_workflow_step_runs": int(row.step_runs), "event_logs": int(row.events)}


def table_snapshot(database: Database) -> tuple[dict[str, int], dict[str, int]]:
    """Exact row counts and pg_total_relation_size of every table, in one snapshot."""
    with database.engine.connect() as connection:
        names = list(
            connection.execute(
                sa.text(
                    "SELECT relname AS bench_probe FROM pg_stat_user_tables "
                    "WHERE schemaname = 'public' ORDER BY 1"
                )
            ).scalars()
        )
        counts = connection.execute(
            sa.text(
                "SELECT "
                + ", ".join(f'(SELECT count(*) FROM public."{name}")' for name in names)
                + ", 1 AS bench_probe"
            )
        ).one()
        sizes = connection.execute(
            sa.text(
                "SELECT relname, pg_total_relation_size(relid) AS bytes, 1 AS bench_probe "
                "FROM pg_stat_user_tables WHERE schemaname = 'public'"
            )
        ).all()
    rows = {name: int(count) for name, count in zip(names, counts[:-1], strict=True)}
    return rows, {row.relname: int(row.bytes) for row in sizes}


def _grown(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    changed = {name: value - before.get(name, 0) for name, value in after.items()}
    return dict(sorted(((k, v) for k, v in changed.items() if v), key=lambda kv: -kv[1]))


_LATENCIES = """
SELECT a.id, a.decided_at, t.created_at AS task_created, t.started_at AS task_started,
       min(r.started_at) AS run_started, 1 AS bench_probe
FROM approvals a
JOIN tasks t ON t.workflow_execution_id = a.workflow_execution_id AND t.workflow_step = 'work'
JOIN agent_runs r ON r.task_id = t.id
WHERE a.tenant_id = :t AND a.decided_at IS NOT NULL
GROUP BY a.id, a.decided_at, t.created_at, t.started_at
"""


def _latencies(
    database: Database, tenant_id: uuid.UUID, calls: dict[uuid.UUID, tuple[float, float]]
) -> dict[str, list[float]]:
    intervals: dict[str, list[float]] = {key: [] for key, _ in INTERVALS}
    for row in _rows(database, _LATENCIES, t=tenant_id):
        if row.id not in calls:
            continue
        call_start, call_end = calls[row.id]
        decided, created = _epoch(row.decided_at), _epoch(row.task_created)
        claimed, started = _epoch(row.task_started), _epoch(row.run_started)
        for key, ms in (
            ("call_to_decided", decided - call_start),
            ("decided_to_task_created", created - decided),
            ("task_created_to_claimed", claimed - created),
            ("claimed_to_run_started", started - claimed),
            ("decided_to_run_started", started - decided),
            ("call_to_run_started", started - call_start),
            ("resolve_call", call_end - call_start),
        ):
            intervals[key].append(ms * 1000)
    if len(intervals[HEADLINE]) != len(calls):
        raise BenchError(
            f"found the next step's agent run of {len(intervals[HEADLINE])} of "
            f"{len(calls)} resolved approvals"
        )
    return intervals


# --- helpers -----------------------------------------------------------------------------------


def _wait_for(
    condition: Callable[[], bool],
    process: subprocess.Popen[bytes],
    log_path: Path,
    *,
    what: str,
    timeout: float = 30.0,
    interval: float = 0.1,
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            raise BenchError(
                f"{what}: the worker exited with code {process.returncode}\n{log_tail(log_path)}"
            )
        if time.monotonic() > deadline:
            raise BenchError(f"{what}: not within {timeout:.0f}s\n{log_tail(log_path)}")
        time.sleep(interval)


def _client(ctx: Context, app: Any) -> AgentWorkerClient:
    engine = create_sync_engine(ctx.database.url)
    return AgentWorkerClient(engine, CeleryPublisher(app), Settings(database_url=ctx.database.url))


def _tenant(ctx: Context, name: str, steps: list[dict[str, Any]]) -> tuple[str, uuid.UUID, str]:
    """A tenant with the bench agent, the workflow ``name`` and one approver: slug, id, email."""
    slug = unique(f"bench-{name}")
    add_agent(ctx.database.engine, AGENT, tools=AGENT_TOOLS, tenant=slug)
    add_workflow(ctx.database.engine, name, steps, tenant=slug)
    approver = f"approver@{slug}.bench"
    add_member(ctx.database.engine, slug, approver, "approver")
    return slug, tenant_id_of(ctx.database, slug), approver


def _start(client: AgentWorkerClient, tenant: str, workflow: str, count: int) -> list[uuid.UUID]:
    return [
        client.start_workflow(tenant=tenant, workflow=workflow, input={"request": number})
        for number in range(count)
    ]


def _pending(database: Database, tenant_id: uuid.UUID) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(approval, execution) of the tenant's pending approvals, oldest first."""
    return [
        (row.id, row.workflow_execution_id)
        for row in _rows(
            database,
            "SELECT id, workflow_execution_id, 1 AS bench_probe FROM approvals "
            "WHERE tenant_id = :t AND status = 'pending' ORDER BY created_at, id",
            t=tenant_id,
        )
    ]


# --- (w1) --------------------------------------------------------------------------------------


def _resolve_batch(
    ctx: Context,
    client: AgentWorkerClient,
    approver: str,
    batch: list[tuple[uuid.UUID, uuid.UUID]],
    process: subprocess.Popen[bytes],
    log_path: Path,
    *,
    mode: str,
) -> dict[uuid.UUID, tuple[float, float]]:
    waits = {"idle": execution_done, "paced": run_started}
    calls: dict[uuid.UUID, tuple[float, float]] = {}
    for approval_id, execution_id in batch:
        started = time.time()
        client.resolve_approval(approval_id, "approve", user=approver, comment="bench")
        calls[approval_id] = (started, time.time())
        if mode in waits:
            _wait_for(
                functools.partial(waits[mode], ctx.database, execution_id),
                process,
                log_path,
                what=f"(w1) {mode}: execution {execution_id} after its approval",
                interval=POLL_SECONDS,
            )
    return calls


def run_resolve(
    ctx: Context,
    client: AgentWorkerClient,
    process: subprocess.Popen[bytes],
    log_path: Path,
    *,
    approvals: int,
    concurrency: int,
) -> ResolveResult:
    database = ctx.database
    total = len(MODES) * approvals
    slug, tenant_id, approver = _tenant(ctx, "bench_gated", GATED_STEPS)
    _start(client, slug, "bench_gated", total)
    _wait_done(
        lambda: executions_in(database, tenant_id, "awaiting_approval"),
        total,
        [Worker(process, log_path)],
        what="(w1) executions awaiting approval",
        stall_seconds=30,
    )
    pending = _pending(database, tenant_id)
    batches = {}
    for number, mode in enumerate(MODES):
        batch = pending[number * approvals : (number + 1) * approvals]
        started = time.monotonic()
        calls = _resolve_batch(ctx, client, approver, batch, process, log_path, mode=mode)
        seconds = time.monotonic() - started
        _wait_done(
            lambda: executions_finished(database, tenant_id),
            (number + 1) * approvals,
            [Worker(process, log_path)],
            what=f"(w1) {mode} executions",
            stall_seconds=30,
        )
        batches[mode] = ResolveBatch(
            mode, approvals, seconds, _latencies(database, tenant_id, calls)
        )
    completed = executions_in(database, tenant_id, "completed")
    if completed != total:
        raise BenchError(
            f"(w1): {completed}/{total} executions completed "
            f"({execution_failures(database, tenant_id)})\n{log_tail(log_path)}"
        )
    return ResolveResult(concurrency, batches)


# --- (w2) --------------------------------------------------------------------------------------


def _slots(app: Any, database: Database, tenant_id: uuid.UUID, pid: int) -> dict[str, Any]:
    """Sample what the worker holds while the executions wait."""
    active: list[int] = []
    reserved: list[int] = []
    cpu_before, wall_before = cpu_seconds(pid), time.monotonic()
    for _ in range(SLOT_SAMPLES):
        inspector = app.control.inspect(timeout=1.0)
        replies = inspector.active()
        if replies:
            active.append(sum(len(tasks) for tasks in replies.values()))
        replies = inspector.reserved()
        if replies:
            reserved.append(sum(len(tasks) for tasks in replies.values()))
        time.sleep(0.3)
    cpu_after, wall_after = cpu_seconds(pid), time.monotonic()
    share = None
    if cpu_before is not None and cpu_after is not None:
        share = (cpu_after - cpu_before) / (wall_after - wall_before)
    return {
        "active": max(active) if active else None,
        "reserved": max(reserved) if reserved else None,
        "samples": len(active),
        "cpu_share": share,
        "running": int(
            _scalar(database, "SELECT count(*) AS bench_probe FROM tasks WHERE status = 'RUNNING'")
        ),
        "tasks_of_these": int(
            _scalar(
                database,
                "SELECT count(*) AS bench_probe FROM tasks WHERE tenant_id = :t",
                t=tenant_id,
            )
        ),
    }


def _time_list(ctx: Context, slug: str) -> tuple[list[float], int, float | None]:
    """``list_approvals(engine, tenant=..., limit=100)`` in-process, as the CLI calls it."""
    engine = create_sync_engine(ctx.database.url)
    try:
        rows = len(list_approvals(engine, tenant=slug, limit=100))  # connect, warm up
        list_approvals(engine, tenant=slug, limit=100)
        profile.reset_statements(ctx.database)
        timings = []
        for _ in range(LIST_CALLS):
            started = time.perf_counter()
            list_approvals(engine, tenant=slug, limit=100)
            timings.append((time.perf_counter() - started) * 1000)
    finally:
        engine.dispose()
    statement_ms = None
    listed = [
        row
        for row in profile.statements(ctx.database)
        if row["query"].startswith("SELECT approvals.id") and "FROM approvals JOIN" in row["query"]
    ]
    if listed:
        calls = sum(int(row["calls"]) for row in listed)
        statement_ms = sum(float(row["total_exec_time"]) for row in listed) / max(1, calls)
    return timings, rows, statement_ms


def _cli_command() -> list[str]:
    script = Path(sys.executable).with_name("agentworker")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "from worker.cli import main; main()"]


def _time_cli(ctx: Context, slug: str) -> tuple[list[float], int, list[float]]:
    """The CLI as a whole process: ``agentworker approvals list --tenant X --json``, and
    ``agentworker --help`` for the process's start-up alone (interpreter and imports)."""
    env = clean_env(DATABASE_URL=ctx.database.url, CELERY_BROKER_URL=ctx.broker.url)
    command = _cli_command()

    def timed(*arguments: str) -> tuple[float, str]:
        started = time.perf_counter()
        done = subprocess.run(
            [*command, *arguments], cwd=ROOT, env=env, capture_output=True, timeout=60
        )
        elapsed = (time.perf_counter() - started) * 1000
        if done.returncode != 0:
            raise BenchError(
                f"agentworker {' '.join(arguments)} exited with {done.returncode}: "
                f"{done.stderr.decode(errors='replace')[-2000:]}"
            )
        return elapsed, done.stdout.decode()

    timed("--help")  # warm the file cache
    startup = [timed("--help")[0] for _ in range(CLI_RUNS)]
    runs, rows = [], 0
    for _ in range(CLI_RUNS):
        elapsed, output = timed("approvals", "list", "--tenant", slug, "--json")
        runs.append(elapsed)
        rows = len(json.loads(output))
    return runs, rows, startup


def run_waiting(
    ctx: Context,
    app: Any,
    client: AgentWorkerClient,
    process: subprocess.Popen[bytes],
    log_path: Path,
    *,
    executions: int,
) -> WaitingResult:
    database = ctx.database
    slug, tenant_id, _ = _tenant(ctx, "bench_waiting", GATED_STEPS)
    rows_before, bytes_before = table_snapshot(database)
    started = time.monotonic()
    _start(client, slug, "bench_waiting", executions)
    _wait_done(
        lambda: executions_in(database, tenant_id, "awaiting_approval"),
        executions,
        [Worker(process, log_path)],
        what="(w2) executions awaiting approval",
        stall_seconds=30,
    )
    start_seconds = time.monotonic() - started
    slots = _slots(app, database, tenant_id, process.pid)
    rows_after, bytes_after = table_snapshot(database)
    list_ms, list_rows, statement_ms = _time_list(ctx, slug)
    cli_ms, cli_rows, startup_ms = _time_cli(ctx, slug)
    return WaitingResult(
        executions=executions,
        start_seconds=start_seconds,
        approvers=1,
        worker_active_max=slots["active"],
        worker_reserved_max=slots["reserved"],
        running_tasks=slots["running"],
        tasks_of_these=slots["tasks_of_these"],
        worker_cpu_share=slots["cpu_share"],
        slot_samples=slots["samples"],
        rows=_grown(rows_after, rows_before),
        lead_rows=lead_step_rows(database, tenant_id),
        bytes=_grown(bytes_after, bytes_before),
        list_ms=list_ms,
        list_rows=list_rows,
        list_statement_ms=statement_ms,
        cli_ms=cli_ms,
        cli_rows=cli_rows,
        cli_startup_ms=startup_ms,
    )


def run_approvals(
    ctx: Context, *, approvals: int, waiting: int, concurrency: int
) -> tuple[ResolveResult, WaitingResult]:
    """(w1) then (w2), with one worker and the local LLM at 0 ms."""
    log_path = ctx.logs / "w-approvals.log"
    app = create_app(ctx.broker.url)
    client = _client(ctx, app)
    try:
        with LLMServerProcess(ctx.logs / "w-approvals-llm.log", latency_ms=0) as llm:
            env = worker_env(ctx, llm.base_url, concurrency)
            process = start_worker_process(env, log_path, concurrency=concurrency)
            try:
                wait_for_worker(app, process, log_path)
                resolve = run_resolve(
                    ctx, client, process, log_path, approvals=approvals, concurrency=concurrency
                )
                waited = run_waiting(ctx, app, client, process, log_path, executions=waiting)
            finally:
                stop_process(process)
    finally:
        client.close()
        app.close()
    ctx.broker.flush()
    return resolve, waited


# --- (w3) --------------------------------------------------------------------------------------

_STEPS_OUTCOME = """
SELECT count(*) AS executions, count(*) FILTER (WHERE e.status = 'completed') AS completed,
       (SELECT min(s.started_at) FROM ai_workflow_step_runs s WHERE s.tenant_id = :t) AS first,
       max(e.completed_at) AS last,
       avg(extract(epoch FROM e.completed_at - (SELECT min(s.started_at)
           FROM ai_workflow_step_runs s WHERE s.execution_id = e.id))) * 1000 AS span_ms,
       (SELECT count(*) FROM tasks WHERE tenant_id = :t AND status = 'SUCCEEDED') AS tasks,
       1 AS bench_probe
FROM ai_workflow_executions e WHERE e.tenant_id = :t
"""

_STEP_TIMELINE = """
WITH s AS (
    SELECT s.execution_id, s.step_key, s.started_at, s.finished_at, t.started_at AS claimed,
           t.finished_at AS task_finished
    FROM ai_workflow_step_runs s JOIN tasks t ON t.id = s.task_id WHERE s.tenant_id = :t
)
SELECT avg(extract(epoch FROM claimed - started_at)) * 1000 AS advance_to_claim,
       avg(extract(epoch FROM task_finished - claimed)) * 1000 AS claim_to_task_finished,
       avg(extract(epoch FROM finished_at - task_finished)) * 1000 AS task_finished_to_step_done,
       1 AS bench_probe
FROM s
"""


def run_steps(ctx: Context, *, executions: int, concurrency: int) -> StepsResult:
    """(w3): publish every execution's start first, then start the worker, as (b) does."""
    database = ctx.database
    name = "w3-three-steps"
    slug = unique(f"bench-{name}")
    add_agent(database.engine, AGENT, tools=AGENT_TOOLS, tenant=slug)
    add_workflow(database.engine, "bench_three_steps", THREE_STEPS, tenant=slug)
    tenant_id = tenant_id_of(database, slug)
    log_path = ctx.logs / f"{name}.log"
    app = create_app(ctx.broker.url)
    try:
        with LLMServerProcess(ctx.logs / f"{name}-llm.log", latency_ms=0) as llm:
            client = _client(ctx, app)
            try:
                submit_started = time.perf_counter()
                _start(client, slug, "bench_three_steps", executions)
                submit_seconds = time.perf_counter() - submit_started
            finally:
                client.close()
            counters_before = profile.database_counters(database)
            profile.reset_statements(database)
            llm_before = llm.chat_requests()
            commands_before = ctx.broker.command_counts()
            env = worker_env(ctx, llm.base_url, concurrency)
            process = start_worker_process(env, log_path, concurrency=concurrency)
            try:
                with CpuSampler(_probes(ctx, [process.pid], llm)) as sampler:
                    wait_for_worker(app, process, log_path)
                    _wait_done(
                        lambda: executions_finished(database, tenant_id),
                        executions,
                        [Worker(process, log_path)],
                        what=f"{name} (workflow executions)",
                        stall_seconds=30,
                    )
                    rss = peak_rss_mib(process.pid)
                llm_requests = llm.chat_requests() - llm_before
                commands = _delta(ctx.broker.command_counts(), commands_before)
                statements = profile.statements(database)
            finally:
                stop_process(process)
    finally:
        app.close()
    ctx.broker.flush()
    profile.wait_for_backends_to_exit(database)
    counters = _delta(profile.database_counters(database), counters_before)
    outcome = _rows(database, _STEPS_OUTCOME, t=tenant_id)[0]
    if outcome.completed != executions:
        raise BenchError(
            f"{name}: {outcome.completed}/{executions} executions completed "
            f"({execution_failures(database, tenant_id)})\n{log_tail(log_path)}"
        )
    first, last = _epoch(outcome.first), _epoch(outcome.last)
    timeline = _rows(database, _STEP_TIMELINE, t=tenant_id)[0]._mapping
    steps = len(THREE_STEPS)
    details = {
        "submit_seconds": round(submit_seconds, 3),
        "execution_ms_avg": None if outcome.span_ms is None else round(float(outcome.span_ms), 1),
        "agent_tasks_per_execution": int(outcome.tasks) / executions,
        "llm_requests_per_execution": llm_requests / executions,
        "database_counters_per_execution": {
            k: round(v / executions, 3) for k, v in counters.items()
        },
        "statements": profile.summarize_statements(statements, executions, top=8)
        if statements
        else None,
        "statements_note": database.statements_note,
        "step_timeline_ms": {
            k: None if v is None else round(float(v), 1)
            for k, v in timeline.items()
            if k != "bench_probe"
        },
    }
    run = RunResult(
        name=name,
        kind="workflow",
        tasks=executions,
        concurrency=concurrency,
        seconds=last - first,
        llm_calls_per_task=2 * steps,
        latency_ms=0,
        peak_rss_mib=rss,
        cpu_seconds=sampler.window(first, last),
        redis_commands=commands,
        profile=details,
    )
    return StepsResult(run, steps)
