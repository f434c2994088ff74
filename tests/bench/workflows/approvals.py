"""(w1) and (w2), on one worker with the local LLM at 0 ms.

(w1) resolves approvals one by one in each of ``MODES`` and reads, from the database's own
timestamps, how long each decision took to become the next step's running agent. (w2) then
leaves many executions waiting on approvals and measures what waiting costs: worker slots held,
rows and bytes per execution, and how long ``approvals list`` takes at that size, in-process and
as the CLI process.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from models.db import create_sync_engine
from tests.bench import profile
from tests.bench.procs import (
    ROOT,
    BenchError,
    LLMServerProcess,
    Worker,
    clean_env,
    cpu_seconds,
    log_tail,
)
from tests.bench.scenarios.context import Context, worker_env
from tests.bench.scenarios.measure import grown, wait_done, wait_for
from tests.bench.services import Database
from tests.bench.workflows.probes import (
    execution_done,
    execution_failures,
    executions_finished,
    executions_in,
    latencies,
    lead_step_rows,
    pending_approvals,
    probe_value,
    run_started,
    table_snapshot,
)
from tests.bench.workflows.results import MODES, ResolveBatch, ResolveResult, WaitingResult
from tests.bench.workflows.workload import (
    GATED_STEPS,
    LEAD_STEP,
    start_executions,
    tenant_with_approver,
    workflow_client,
)
from worker.app import create_app
from worker.approvals.views import list_approvals
from worker.client import AgentWorkerClient
from worker.dev.services import start_worker_process, stop_process, wait_for_worker

POLL_SECONDS = 0.005  # pacing only: the latencies come from the database's timestamps
LIST_CALLS = 15
CLI_RUNS = 3
SLOT_SAMPLES = 5


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
            wait_for(
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
    slug, tenant_id, approver = tenant_with_approver(ctx, "bench_gated", GATED_STEPS)
    start_executions(client, slug, "bench_gated", total)
    wait_done(
        lambda: executions_in(database, tenant_id, "awaiting_approval"),
        total,
        [Worker(process, log_path)],
        what="(w1) executions awaiting approval",
        stall_seconds=30,
    )
    pending = pending_approvals(database, tenant_id)
    batches = {}
    for number, mode in enumerate(MODES):
        batch = pending[number * approvals : (number + 1) * approvals]
        started = time.monotonic()
        calls = _resolve_batch(ctx, client, approver, batch, process, log_path, mode=mode)
        seconds = time.monotonic() - started
        wait_done(
            lambda: executions_finished(database, tenant_id),
            (number + 1) * approvals,
            [Worker(process, log_path)],
            what=f"(w1) {mode} executions",
            stall_seconds=30,
        )
        batches[mode] = ResolveBatch(
            mode, approvals, seconds, latencies(database, tenant_id, calls)
        )
    completed = executions_in(database, tenant_id, "completed")
    if completed != total:
        raise BenchError(
            f"(w1): {completed}/{total} executions completed "
            f"({execution_failures(database, tenant_id)})\n{log_tail(log_path)}"
        )
    return ResolveResult(concurrency, batches)


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
            probe_value(
                database, "SELECT count(*) AS bench_probe FROM tasks WHERE status = 'RUNNING'"
            )
        ),
        "tasks_of_these": int(
            probe_value(
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
    slug, tenant_id, _ = tenant_with_approver(ctx, "bench_waiting", GATED_STEPS)
    rows_before, bytes_before = table_snapshot(database)
    started = time.monotonic()
    start_executions(client, slug, "bench_waiting", executions)
    wait_done(
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
        rows=grown(rows_after, rows_before),
        lead_rows=lead_step_rows(database, tenant_id, LEAD_STEP),
        bytes=grown(bytes_after, bytes_before),
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
    client = workflow_client(ctx, app)
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
