"""Waiting for a run to finish and reading what it cost: progress polling that fails fast when a
worker dies or stalls, the CPU probes a ``CpuSampler`` reads, and counter deltas."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

from tests.bench.procs import (
    BenchError,
    LLMServerProcess,
    Worker,
    check_running,
    log_tail,
    logs_tail,
    peak_rss_mib,
)
from tests.bench.scenarios.context import Context
from tests.bench.sched import Runtime, postgres_backends, postgres_server


def wait_done(
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


def wait_for(
    condition: Callable[[], bool],
    process: subprocess.Popen[bytes],
    log_path: Path,
    *,
    what: str,
    timeout: float = 30.0,
    interval: float = 0.1,
) -> None:
    """Until ``condition()`` holds; fails when the worker exits or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while not condition():
        if process.poll() is not None:
            raise BenchError(
                f"{what}: the worker exited with code {process.returncode}\n{log_tail(log_path)}"
            )
        if time.monotonic() > deadline:
            raise BenchError(f"{what}: not within {timeout:.0f}s\n{log_tail(log_path)}")
        time.sleep(interval)


def cpu_probes(
    ctx: Context, worker_pids: Sequence[int], llm: LLMServerProcess | None
) -> dict[str, Callable[[], float | None]]:
    """CPU probes, read exactly from the scheduler (``tests.bench.sched``), not in ticks;
    "worker" is the sum over the worker processes, so it reads the same for one process or
    several; PostgreSQL's client backends (the statements) apart from its server processes."""
    pids = list(worker_pids)
    probes: dict[str, Callable[[], float | None]] = {"worker": Runtime(lambda: pids)}
    postmaster = ctx.database.postmaster_pid
    if postmaster:
        probes["postgres backends"] = Runtime(lambda: postgres_backends(postmaster))
        probes["postgres server"] = Runtime(lambda: postgres_server(postmaster))
    else:
        probes["postgres"] = ctx.database.cpu
    broker_pid = ctx.broker.pid
    probes["redis"] = Runtime(lambda: [broker_pid]) if broker_pid else ctx.broker.cpu
    probes["bench driver"] = Runtime(lambda: [os.getpid()])
    if llm is not None:
        llm_pid = llm.pid
        probes["llm server"] = Runtime(lambda: [llm_pid])
    return probes


def grown(after: dict[str, int], before: dict[str, int]) -> dict[str, int]:
    """The counters that changed, largest change first."""
    changed = {name: count - before.get(name, 0) for name, count in after.items()}
    return dict(sorted(((k, v) for k, v in changed.items() if v), key=lambda kv: -kv[1]))


def peak_rss(workers: Sequence[Worker]) -> list[float | None]:
    """Each worker's VmHWM, read while it still runs."""
    return [peak_rss_mib(worker.process.pid) for worker in workers]


def total(values: Sequence[float | None]) -> float | None:
    """The sum, or None when any value is unknown (a partial sum would under-report)."""
    return None if not values or None in values else sum(v for v in values if v is not None)


def epoch(value: datetime) -> float:
    return value.timestamp()
