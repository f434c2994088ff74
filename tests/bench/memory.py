"""``--only memory``: a worker process's resident memory (issue 15, item 6).

One agentworker worker at concurrency 50 is started per variant (glibc's default arenas, and
as deployed: ``MALLOC_ARENA_MAX=2``); its RSS is read when idle (ready, runtime built) and after
``tasks`` agent tasks against the local LLM. Bare Celery + the openai SDK
(tests/bench/bare_llm.py) is read the same way when idle. Thread stacks are the RSS of the
anonymous mappings the size of a thread stack (``/proc/PID/smaps``).
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from tests.bench import bare_llm, profile
from tests.bench.procs import (
    LLMServerProcess,
    start_bare_worker,
    wait_until_ready,
    worker_processes,
)
from tests.bench.scenarios.agent_runs import _submit
from tests.bench.scenarios.context import AGENT_TOOLS, Context, worker_env
from tests.bench.scenarios.measure import wait_done
from tests.bench.services import unique
from tests.support.agents import add_agent
from worker.app import create_app
from worker.dev.services import start_worker_process

CONCURRENCY = 50
TASKS = 200
TARGET_MIB = 110.0
SETTLE_SECONDS = 3.0
#: glibc's default thread stack (ulimit -s 8192) and its guard page, in KiB.
STACK_KIB = (8192, 8196)


def _status(pid: int) -> dict[str, str]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return fields


def _kib(value: str) -> float:
    return int(value.split()[0]) / 1024


@dataclass
class Reading:
    """One look at a process: RSS (now and peak), threads, the RSS its thread stacks hold."""

    rss_mib: float
    hwm_mib: float
    threads: int
    stacks_mib: float
    anon_mib: float

    @classmethod
    def of(cls, pid: int) -> Reading:
        status = _status(pid)
        stacks = anon = 0.0
        size = 0
        anonymous = False
        for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
            head = line.split()
            if head and "-" in head[0] and ":" not in head[0]:
                anonymous = len(head) < 6
                continue
            if head[0] == "Size:":
                size = int(head[1])
            elif head[0] == "Rss:" and anonymous:
                anon += int(head[1]) / 1024
                if size in STACK_KIB:
                    stacks += int(head[1]) / 1024
        return cls(
            rss_mib=_kib(status["VmRSS"]),
            hwm_mib=_kib(status["VmHWM"]),
            threads=int(status["Threads"]),
            stacks_mib=stacks,
            anon_mib=anon,
        )

    def row(self, label: str) -> str:
        return (
            f"  {label:<42} {self.rss_mib:7.1f} {self.hwm_mib:7.1f} {self.threads:7d} "
            f"{self.stacks_mib:8.1f} {self.anon_mib:8.1f}"
        )


@dataclass
class MemoryResults:
    tasks: int
    readings: dict[str, Reading] = field(default_factory=dict)

    def render(self) -> str:
        lines = [
            f"memory: one worker process, --pool threads --concurrency {CONCURRENCY}, "
            f"{self.tasks} agent tasks (MiB; stacks: RSS of thread-stack mappings)",
            f"  {'':<42} {'RSS':>7} {'peak':>7} {'threads':>7} {'stacks':>8} {'anon':>8}",
        ]
        lines += [reading.row(label) for label, reading in self.readings.items()]
        ours = self.readings.get("agentworker, after tasks")
        if ours is not None:
            verdict = "met" if ours.rss_mib <= TARGET_MIB else "missed"
            lines.append(f"  target RSS <= {TARGET_MIB:.0f} MiB after tasks: {verdict}")
        return "\n".join(lines) + "\n"

    def as_json(self) -> dict[str, object]:
        return {"tasks": self.tasks, "readings": {k: v.__dict__ for k, v in self.readings.items()}}


def _ours(
    ctx: Context, results: MemoryResults, label: str, extra_env: dict[str, str], tasks: int
) -> None:
    database = ctx.database
    tenant = unique("bench-memory")
    add_agent(database.engine, "bench-agent", tools=AGENT_TOOLS, tenant=tenant)
    with database.engine.connect() as connection:
        tenant_id = connection.execute(
            sa.text("SELECT id AS bench_probe FROM tenants WHERE slug = :slug"), {"slug": tenant}
        ).scalar_one()
    app = create_app(ctx.broker.url)
    try:
        with LLMServerProcess(ctx.logs / f"memory-{label}-llm.log", latency_ms=50) as llm:
            env = worker_env(ctx, llm.base_url, CONCURRENCY) | extra_env

            def start(hostname: str, log_path: Path) -> subprocess.Popen[bytes]:
                return start_worker_process(
                    env, log_path, concurrency=CONCURRENCY, hostname=hostname
                )

            with worker_processes(
                start, count=1, logs=ctx.logs, name=f"memory-{label}", prefix="agentworker"
            ) as workers:
                wait_until_ready(app, workers)
                time.sleep(SETTLE_SECONDS)
                pid = workers[0].process.pid
                results.readings[f"{label}, idle"] = Reading.of(pid)
                _submit(ctx, app, tenant, "bench-agent", tasks)
                wait_done(
                    lambda: profile.finished_count(database, tenant_id),
                    tasks,
                    workers,
                    what=f"memory {label}",
                    stall_seconds=60,
                )
                time.sleep(SETTLE_SECONDS)
                results.readings[f"{label}, after tasks"] = Reading.of(pid)
    finally:
        app.close()
    ctx.broker.flush()


def _bare(ctx: Context, results: MemoryResults) -> None:
    from tests.bench import bare

    app = bare.create_app(ctx.broker.url)
    try:
        with LLMServerProcess(ctx.logs / "memory-bare-llm.log", latency_ms=50) as llm:

            def start(hostname: str, log_path: Path) -> subprocess.Popen[bytes]:
                return start_bare_worker(
                    ctx.broker.url,
                    CONCURRENCY,
                    log_path,
                    hostname=hostname,
                    app_module=bare_llm.__name__,
                    extra_env={"BENCH_LLM_BASE_URL": llm.base_url},
                )

            with worker_processes(
                start, count=1, logs=ctx.logs, name="memory-bare", prefix="bench-bare"
            ) as workers:
                wait_until_ready(app, workers)
                time.sleep(SETTLE_SECONDS)
                results.readings["bare Celery + SDK, idle"] = Reading.of(workers[0].process.pid)
    finally:
        app.close()
    ctx.broker.flush()


def run_memory(ctx: Context, *, tasks: int, say: Callable[[str], None]) -> MemoryResults:
    results = MemoryResults(tasks)
    say("(memory) bare Celery + SDK")
    _bare(ctx, results)
    glibc_default = str(8 * (os.cpu_count() or 1))  # start_worker_process sets 2 otherwise
    for label, extra in (
        ("agentworker, arenas 8/core", {"MALLOC_ARENA_MAX": glibc_default}),
        ("agentworker", {}),
    ):
        say(f"(memory) {label}: idle, then {tasks} agent tasks")
        _ours(ctx, results, label, extra, tasks)
    return results
