"""(b) and (c): agent tasks through agentworker's own worker processes, one tool per task.

Every task is submitted through ``AgentWorkerClient`` first, then the workers start; the
database's timestamps (first task start, last finish) give the measured window, and the
database's counters, pg_stat_statements and the rows written give the per-task profile.
"""

from __future__ import annotations

import subprocess
import time
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from models.db import create_sync_engine
from tests.bench import profile
from tests.bench.procs import (
    BenchError,
    CpuSampler,
    LLMServerProcess,
    Worker,
    logs_tail,
    per_process,
    wait_until_ready,
    worker_processes,
)
from tests.bench.scenarios.context import AGENT_TOOLS, Context, worker_env
from tests.bench.scenarios.measure import cpu_probes, epoch, grown, peak_rss, total, wait_done
from tests.bench.scenarios.result import RunResult
from tests.bench.services import unique
from tests.support.agents import add_agent
from worker.app import create_app
from worker.client import AgentWorkerClient
from worker.core.settings import Settings
from worker.dev.services import start_worker_process
from worker.durable.publishing import CeleryPublisher

#: The worker that traces every task to an in-memory exporter (``traced=True``).
TRACED_WORKER = "tests.bench.traced_worker"


def our_workers(
    ctx: Context,
    llm_base_url: str,
    *,
    threads: int,
    processes: int,
    name: str,
    traced: bool = False,
) -> AbstractContextManager[list[Worker]]:
    """``processes`` agentworker worker processes of ``threads`` each, against the bench's
    database and broker and the LLM server at ``llm_base_url``; stopped on exit. ``traced``:
    with tracing on, to an in-memory exporter (tests/bench/traced_worker.py)."""
    env = worker_env(ctx, llm_base_url, threads)
    module = TRACED_WORKER if traced else "celery"

    def start(hostname: str, log_path: Path) -> subprocess.Popen[bytes]:
        return start_worker_process(
            env, log_path, concurrency=threads, hostname=hostname, module=module
        )

    return worker_processes(start, count=processes, logs=ctx.logs, name=name, prefix="agentworker")


def _submit(ctx: Context, app: Any, tenant: str, agent: str, tasks: int) -> float:
    engine = create_sync_engine(ctx.database.url)
    client = AgentWorkerClient(
        engine, CeleryPublisher(app), Settings(database_url=ctx.database.url)
    )
    started = time.perf_counter()
    try:
        for number in range(tasks):
            client.submit(tenant=tenant, agent=agent, input=f"What time is it? (request {number})")
    finally:
        client.close()
    return time.perf_counter() - started


def run_agents(
    ctx: Context,
    name: str,
    *,
    tasks: int,
    concurrency: int,
    latency_ms: float,
    processes: int = 1,
    traced: bool = False,
) -> RunResult:
    database = ctx.database
    tenant = unique(f"bench-{name}")
    add_agent(database.engine, "bench-agent", tools=AGENT_TOOLS, tenant=tenant)
    with database.engine.connect() as connection:
        tenant_id = connection.execute(
            sa.text("SELECT id AS bench_probe FROM tenants WHERE slug = :slug"), {"slug": tenant}
        ).scalar_one()
    threads = per_process(concurrency, processes)
    app = create_app(ctx.broker.url)
    try:
        with LLMServerProcess(ctx.logs / f"{name}-llm.log", latency_ms=latency_ms) as llm:
            submit_seconds = _submit(ctx, app, tenant, "bench-agent", tasks)
            counters_before = profile.database_counters(database)
            tables_before = profile.table_counters(database)
            profile.reset_statements(database)
            llm_before = llm.chat_requests()
            commands_before = ctx.broker.command_counts()
            with our_workers(
                ctx, llm.base_url, threads=threads, processes=processes, name=name, traced=traced
            ) as workers:
                pids = [worker.process.pid for worker in workers]
                with CpuSampler(cpu_probes(ctx, pids, llm)) as sampler:
                    wait_until_ready(app, workers)
                    wait_done(
                        lambda: profile.finished_count(database, tenant_id),
                        tasks,
                        workers,
                        what=f"{name} (agent tasks)",
                        stall_seconds=30 + 4 * latency_ms / 1000,
                    )
                    rss = peak_rss(workers)
                llm_requests = llm.chat_requests() - llm_before
                commands = grown(ctx.broker.command_counts(), commands_before)
                statements = profile.statements(database)
    finally:
        app.close()
    ctx.broker.flush()
    profile.wait_for_backends_to_exit(database)
    counters = grown(profile.database_counters(database), counters_before)
    tables = profile.table_deltas(profile.table_counters(database), tables_before, tasks)
    outcome = profile.task_outcome(database, tenant_id)
    if outcome["succeeded"] != tasks:
        problems = "; ".join(
            f"{row['bench_probe']} x {row['status']} {row['error_code']}: {row['error']}"
            for row in profile.failures(database, tenant_id)
        )
        raise BenchError(
            f"{name}: {outcome['succeeded']}/{tasks} tasks SUCCEEDED ({problems})\n"
            + logs_tail(workers)
        )
    first, last = epoch(outcome["first_start"]), epoch(outcome["last_finish"])
    details = {
        "submit_seconds": round(submit_seconds, 3),
        "database_counters_per_task": {k: round(v / tasks, 3) for k, v in counters.items()},
        "database_sessions_opened": counters.get("sessions", 0),
        "tables_per_task": tables,
        "llm_requests_per_task": llm_requests / tasks,
        "rows_per_task": {
            k: v / tasks for k, v in profile.rows_written(database, tenant_id).items()
        },
        "timeline_ms": profile.timeline(database, tenant_id),
        "slot_ms_per_task": threads * processes * (last - first) * 1000 / tasks,
        "spans": traced_spans(workers) if traced else None,
        "statements": profile.summarize_statements(statements, tasks) if statements else None,
        "statements_note": database.statements_note,
    }
    return RunResult(
        name=name,
        kind="agent",
        tasks=tasks,
        concurrency=threads * processes,
        seconds=last - first,
        llm_calls_per_task=2,
        latency_ms=latency_ms,
        peak_rss_mib=total(rss),
        cpu_seconds=sampler.window(first, last),
        redis_commands=commands,
        profile=details,
        processes=processes,
        peak_rss_each_mib=rss,
    )


def traced_spans(workers: list[Worker]) -> int:
    """The spans the traced workers finished, as each printed at its exit."""
    found = 0
    for worker in workers:
        text = worker.log_path.read_text(errors="replace") if worker.log_path.exists() else ""
        found += sum(
            int(line.split()[1]) for line in text.splitlines() if line.startswith("traced_worker: ")
        )
    return found
