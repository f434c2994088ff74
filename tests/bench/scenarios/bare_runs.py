"""(a), (b0) and (c)'s baseline: bare Celery workers on the same broker, no database.

(a) no-op tasks, (c)'s bare side tasks that sleep as long as the agent's LLM calls, and (b0)
tasks that make (b)'s two LLM calls through the openai SDK (``tests/bench/bare_llm.py``): what
Celery, and Celery with the SDK, cost on their own. Each task marks its start and end in Redis
(``tests/bench/bare.py``), which gives the measured window.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.bench import bare, bare_llm
from tests.bench.procs import (
    CpuSampler,
    LLMServerProcess,
    per_process,
    start_bare_worker,
    wait_until_ready,
    worker_processes,
)
from tests.bench.scenarios.context import Context
from tests.bench.scenarios.measure import cpu_probes, grown, peak_rss, total, wait_done
from tests.bench.scenarios.result import RunResult


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
            with CpuSampler(cpu_probes(ctx, pids, llm)) as sampler:
                wait_until_ready(publisher, workers)
                wait_done(
                    lambda: int(ctx.broker.client.get(done_key) or 0),
                    tasks,
                    workers,
                    what=f"{name} (bare Celery)",
                    stall_seconds=30 + 2 * llm_calls * latency_ms / 1000,
                )
                rss = peak_rss(workers)
            commands = grown(ctx.broker.command_counts(), commands_before)
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
        peak_rss_mib=total(rss),
        cpu_seconds=sampler.window(first, last),
        redis_commands=commands,
        profile={"llm_requests_per_task": llm_requests / tasks} if llm is not None else {},
        processes=processes,
        peak_rss_each_mib=rss,
    )
