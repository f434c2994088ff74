"""One benchmark run each: publish every task first, then start the worker processes, so that
start-up is outside the measured window (first task start to last completion).

A run's ``concurrency`` is its total: ``processes`` workers of ``per_process(concurrency,
processes)`` threads each (one process uses at most one CPU, however many threads it has).
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from models.db import create_sync_engine
from tests.bench import bare, bare_llm, profile
from tests.bench.procs import (
    BenchError,
    CpuSampler,
    LLMServerProcess,
    Worker,
    check_running,
    clean_env,
    cpu_seconds,
    driver_cpu,
    logs_tail,
    peak_rss_mib,
    per_process,
    start_bare_worker,
    total_cpu_seconds,
    wait_until_ready,
    worker_processes,
)
from tests.bench.services import Broker, Database, unique
from tests.support.agents import add_agent
from worker.app import create_app
from worker.client import AgentWorkerClient
from worker.core.settings import Settings
from worker.dev.services import start_worker_process
from worker.durable.publishing import CeleryPublisher

AGENT_TOOLS = ["current_time"]  # one tool: two LLM calls and one tool call per task
PRICES = {"model-": {"input": 0.15, "output": 0.6}}  # add_agent's model names: non-zero cost


@dataclass
class Context:
    database: Database
    broker: Broker
    logs: Path
    db_pool_size: int
    db_max_overflow: int


@dataclass
class RunResult:
    name: str
    kind: str  # "bare", "agent" or "workflow"
    tasks: int
    concurrency: int  # the total over every worker process: processes x threads each
    seconds: float
    llm_calls_per_task: int
    latency_ms: float
    peak_rss_mib: float | None  # the sum over the worker processes
    cpu_seconds: dict[str, float | None]  # "worker": the sum over the worker processes
    redis_commands: dict[str, int]
    profile: dict[str, Any] = field(default_factory=dict)
    processes: int = 1
    peak_rss_each_mib: list[float | None] = field(default_factory=list)

    @property
    def concurrency_per_process(self) -> int:
        return self.concurrency // self.processes

    @property
    def per_second(self) -> float:
        return self.tasks / self.seconds if self.seconds > 0 else 0.0

    @property
    def bound(self) -> float | None:
        """Little's law: concurrency / time each task must wait, when it waits at all."""
        wait = self.llm_calls_per_task * self.latency_ms / 1000
        return self.concurrency / wait if wait > 0 else None

    def as_json(self) -> dict[str, Any]:
        bound = self.bound
        return {
            "name": self.name,
            "kind": self.kind,
            "tasks": self.tasks,
            "concurrency": self.concurrency,
            "processes": self.processes,
            "concurrency_per_process": self.concurrency_per_process,
            "seconds": round(self.seconds, 4),
            "tasks_per_second": round(self.per_second, 2),
            "llm_calls_per_task": self.llm_calls_per_task,
            "llm_latency_ms": self.latency_ms,
            "bound_tasks_per_second": bound,
            "of_bound": round(self.per_second / bound, 4) if bound else None,
            "peak_rss_mib": None if self.peak_rss_mib is None else round(self.peak_rss_mib, 1),
            "peak_rss_per_process_mib": [
                None if rss is None else round(rss, 1) for rss in self.peak_rss_each_mib
            ],
            "cpu_share_of_one_cpu": {
                name: None if spent is None or self.seconds <= 0 else round(spent / self.seconds, 3)
                for name, spent in self.cpu_seconds.items()
            },
            "cpu_ms_per_task": {
                name: None if spent is None else round(spent * 1000 / self.tasks, 3)
                for name, spent in self.cpu_seconds.items()
            },
            "redis_commands_per_task": {
                name: round(count / self.tasks, 3) for name, count in self.redis_commands.items()
            },
            "profile": self.profile,
        }


def _wait_done(
    progress: Callable[[], int],
    total: int,
    workers: Sequence[Worker],
    *,
    what: str,
    stall_seconds: float,
) -> None:
    """Until ``progress()`` reaches ``total``; fails as soon as any worker exits, or when no
    task has finished for ``stall_seconds``."""
    last, changed = -1, time.monotonic()
    while True:
        done = progress()
        if done >= total:
            return
        check_running(workers, f"{what}, after {done}/{total} tasks")
        if done != last:
            last, changed = done, time.monotonic()
        elif time.monotonic() - changed > stall_seconds:
            raise BenchError(
                f"{what}: no task finished for {stall_seconds:.0f}s ({done}/{total} done)\n"
                + logs_tail(workers)
            )
        time.sleep(0.1)


def _probes(
    ctx: Context, worker_pids: Sequence[int], llm: LLMServerProcess | None
) -> dict[str, Callable[[], float | None]]:
    """CPU probes; "worker" is the sum over the worker processes, so it reads the same for one
    process or several."""
    probes: dict[str, Callable[[], float | None]] = {
        "worker": lambda: total_cpu_seconds(worker_pids),
        "postgres": ctx.database.cpu,
        "redis": ctx.broker.cpu,
        "bench driver": driver_cpu,
    }
    if llm is not None:
        probes["llm server"] = lambda: cpu_seconds(llm.pid)
    return probes


def _delta(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    changed = {name: count - before.get(name, 0) for name, count in after.items()}
    return dict(sorted(((k, v) for k, v in changed.items() if v), key=lambda kv: -kv[1]))


def _peak_rss(workers: Sequence[Worker]) -> list[float | None]:
    """Each worker's VmHWM, read while it still runs."""
    return [peak_rss_mib(worker.process.pid) for worker in workers]


def _sum(values: Sequence[float | None]) -> float | None:
    return None if not values or None in values else sum(v for v in values if v is not None)


def run_bare(
    ctx: Context,
    name: str,
    *,
    tasks: int,
    concurrency: int,
    processes: int = 1,
    sleep_ms: float = 0,
    sleeps: int = 0,
) -> RunResult:
    """(a) no-op tasks, or with ``sleeps`` (c)'s tasks that sleep as long as its LLM calls."""
    task, extra = (bare.SLEEP, [sleep_ms / 1000, sleeps]) if sleeps else (bare.NOOP, [])
    return _run_bare(
        ctx,
        name,
        tasks=tasks,
        concurrency=concurrency,
        processes=processes,
        task=task,
        args=lambda _: extra,
        llm_calls=sleeps,
        latency_ms=sleep_ms,
    )


def run_bare_llm(
    ctx: Context, name: str, *, tasks: int, concurrency: int, processes: int
) -> RunResult:
    """(b0): bare Celery tasks that make (b)'s two LLM calls through the openai SDK, LLM at 0 ms."""
    with LLMServerProcess(ctx.logs / f"{name}-llm.log", latency_ms=0) as llm:
        return _run_bare(
            ctx,
            name,
            tasks=tasks,
            concurrency=concurrency,
            processes=processes,
            task=bare_llm.CHAT,
            args=lambda number: [number],
            llm_calls=2,
            latency_ms=0,
            llm=llm,
        )


def _run_bare(
    ctx: Context,
    name: str,
    *,
    tasks: int,
    concurrency: int,
    processes: int,
    task: str,
    args: Callable[[int], list[Any]],
    llm_calls: int,
    latency_ms: float,
    llm: LLMServerProcess | None = None,
) -> RunResult:
    run = uuid.uuid4().hex[:12]
    threads = per_process(concurrency, processes)
    publisher = bare.create_app(ctx.broker.url, threads)
    first_key, last_key, done_key = bare.keys(run)
    app_module, extra_env = bare.__name__, {}
    if llm is not None:
        app_module, extra_env = bare_llm.__name__, {"BENCH_LLM_BASE_URL": llm.base_url}

    def start(hostname: str, log_path: Path) -> subprocess.Popen[bytes]:
        return start_bare_worker(
            ctx.broker.url,
            threads,
            log_path,
            hostname=hostname,
            app_module=app_module,
            extra_env=extra_env,
        )

    try:
        with publisher.producer_or_acquire() as producer:
            for number in range(tasks):
                publisher.send_task(
                    task, args=[run, *args(number)], queue=bare.QUEUE, producer=producer
                )
        commands_before = ctx.broker.command_counts()
        llm_before = llm.chat_requests() if llm is not None else 0
        with worker_processes(
            start, count=processes, logs=ctx.logs, name=name, prefix="bench-bare"
        ) as workers:
            pids = [worker.process.pid for worker in workers]
            with CpuSampler(_probes(ctx, pids, llm)) as sampler:
                wait_until_ready(publisher, workers)
                _wait_done(
                    lambda: int(ctx.broker.client.get(done_key) or 0),
                    tasks,
                    workers,
                    what=f"{name} (bare Celery)",
                    stall_seconds=30 + 2 * llm_calls * latency_ms / 1000,
                )
                rss = _peak_rss(workers)
            commands = _delta(ctx.broker.command_counts(), commands_before)
            llm_requests = llm.chat_requests() - llm_before if llm is not None else 0
    finally:
        publisher.close()
    first = float(ctx.broker.client.get(first_key))
    last = float(ctx.broker.client.get(last_key))
    ctx.broker.flush()
    return RunResult(
        name=name,
        kind="bare",
        tasks=tasks,
        concurrency=threads * processes,
        seconds=last - first,
        llm_calls_per_task=llm_calls,
        latency_ms=latency_ms,
        peak_rss_mib=_sum(rss),
        cpu_seconds=sampler.window(first, last),
        redis_commands=commands,
        profile={"llm_requests_per_task": llm_requests / tasks} if llm is not None else {},
        processes=processes,
        peak_rss_each_mib=rss,
    )


def worker_env(ctx: Context, llm_base_url: str, concurrency: int) -> dict[str, str]:
    """tests/support/stack.py's worker environment, with the pool sizes of a real deployment."""
    return clean_env(
        DATABASE_URL=ctx.database.url,
        CELERY_BROKER_URL=ctx.broker.url,
        OPENAI_BASE_URL=llm_base_url,
        AGENTWORKER_CONCURRENCY=str(concurrency),
        AGENTWORKER_DB_POOL_SIZE=str(ctx.db_pool_size),
        AGENTWORKER_DB_MAX_OVERFLOW=str(ctx.db_max_overflow),
        AGENTWORKER_PRICE_TABLE=json.dumps(PRICES),
    )


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


def _epoch(value: datetime) -> float:
    return value.timestamp()


def run_agents(
    ctx: Context,
    name: str,
    *,
    tasks: int,
    concurrency: int,
    latency_ms: float,
    processes: int = 1,
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
            env = worker_env(ctx, llm.base_url, threads)

            def start(hostname: str, log_path: Path) -> subprocess.Popen[bytes]:
                return start_worker_process(env, log_path, concurrency=threads, hostname=hostname)

            with worker_processes(
                start, count=processes, logs=ctx.logs, name=name, prefix="agentworker"
            ) as workers:
                pids = [worker.process.pid for worker in workers]
                with CpuSampler(_probes(ctx, pids, llm)) as sampler:
                    wait_until_ready(app, workers)
                    _wait_done(
                        lambda: profile.finished_count(database, tenant_id),
                        tasks,
                        workers,
                        what=f"{name} (agent tasks)",
                        stall_seconds=30 + 4 * latency_ms / 1000,
                    )
                    rss = _peak_rss(workers)
                llm_requests = llm.chat_requests() - llm_before
                commands = _delta(ctx.broker.command_counts(), commands_before)
                statements = profile.statements(database)
    finally:
        app.close()
    ctx.broker.flush()
    profile.wait_for_backends_to_exit(database)
    counters = _delta(profile.database_counters(database), counters_before)
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
    first, last = _epoch(outcome["first_start"]), _epoch(outcome["last_finish"])
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
        peak_rss_mib=_sum(rss),
        cpu_seconds=sampler.window(first, last),
        redis_commands=commands,
        profile=details,
        processes=processes,
        peak_rss_each_mib=rss,
    )
