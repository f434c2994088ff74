"""Processes the bench starts (workers, the local LLM server) and what /proc says about them."""

from __future__ import annotations

import bisect
import contextlib
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from worker.dev.services import free_port, stop_process

ROOT = Path(__file__).resolve().parents[2]
_TICK = os.sysconf("SC_CLK_TCK")


class BenchError(RuntimeError):
    """The benchmark could not complete; the message says why and what the logs said."""


def log_tail(path: Path, chars: int = 3000) -> str:
    if not path.exists():
        return f"(no log at {path})"
    return f"--- last lines of {path} ---\n{path.read_text(errors='replace')[-chars:]}"


# --- /proc -------------------------------------------------------------------------------------


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return raw[raw.rindex(")") + 2 :].split()  # fields from 3 (state) on; comm may hold spaces


def cpu_seconds(pid: int, *, children: bool = False) -> float | None:
    """utime + stime of ``pid`` (all its threads), plus its reaped children's if asked."""
    fields = _stat_fields(pid)
    if fields is None:
        return None
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14, 15)
    if children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks / _TICK


def parent_pid(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return int(fields[1]) if fields else None


def command_name(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def children_of(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        pass
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and parent_pid(int(entry.name)) == pid:
            found.append(int(entry.name))
    return found


def process_tree_cpu(pid: int) -> float | None:
    """CPU of a server and its children, living and exited (PostgreSQL's backends)."""
    own = cpu_seconds(pid, children=True)
    if own is None:
        return None
    return own + sum(cpu_seconds(child) or 0.0 for child in children_of(pid))


def total_cpu_seconds(pids: Sequence[int]) -> float | None:
    """The CPU of several worker processes as one figure; unknown once any of them is gone,
    so that a sample never drops a process's seconds and the window's delta stays honest."""
    spent = [cpu_seconds(pid) for pid in pids]
    return None if any(s is None for s in spent) else sum(s for s in spent if s is not None)


def peak_rss_mib(pid: int) -> float | None:
    """VmHWM: the process's peak resident set size."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class CpuSampler:
    """Samples CPU seconds of named processes every ``interval`` on a thread, so that the CPU
    spent inside a time window known only afterwards (first task start to last completion)
    can be read by interpolation."""

    def __init__(self, probes: dict[str, Callable[[], float | None]], interval: float = 0.1):
        self.probes = probes
        self.interval = interval
        self.times: list[float] = []
        self.values: list[dict[str, float | None]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-cpu-sampler", daemon=True)

    def __enter__(self) -> CpuSampler:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def sample(self) -> None:
        values = {name: probe() for name, probe in self.probes.items()}
        self.times.append(time.time())
        self.values.append(values)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def _at(self, name: str, when: float) -> float | None:
        index = bisect.bisect_left(self.times, when)
        if index <= 0:
            return self.values[0][name]
        if index >= len(self.times):
            return self.values[-1][name]
        t0, t1 = self.times[index - 1], self.times[index]
        v0, v1 = self.values[index - 1][name], self.values[index][name]
        if v0 is None or v1 is None:
            return v1 if v0 is None else v0
        return v0 + (v1 - v0) * (when - t0) / (t1 - t0)

    def window(self, start: float, end: float) -> dict[str, float | None]:
        """CPU seconds each process spent between two wall-clock times."""
        spent: dict[str, float | None] = {}
        for name in self.probes:
            first, last = self._at(name, start), self._at(name, end)
            spent[name] = None if first is None or last is None else max(0.0, last - first)
        return spent


def driver_cpu() -> float:
    times = os.times()
    return times.user + times.system


# --- child processes ---------------------------------------------------------------------------


def clean_env(**extra: str) -> dict[str, str]:
    """The environment a child gets: ours, minus anything that would redirect it."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AGENTWORKER_", "OPENAI_", "CELERY_", "BENCH_"))
        and key not in ("DATABASE_URL", "REDIS_URL")
    }
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


def start_bare_worker(
    broker_url: str,
    concurrency: int,
    log_path: Path,
    *,
    hostname: str | None = None,
    app_module: str = "tests.bench.bare",
    extra_env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """``celery worker`` for tests/bench/bare.py (or a module that adds tasks to its app),
    started as devstack starts ours; ``concurrency`` is this one process's."""
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        app_module,
        "worker",
        "--pool",
        "threads",
        "--concurrency",
        str(concurrency),
        "--queues",
        "bench",
        "--loglevel",
        "INFO",
        "--hostname",
        hostname or f"bench-bare-{os.getpid()}@%h",
    ]
    env = clean_env(
        BENCH_BROKER_URL=broker_url, BENCH_CONCURRENCY=str(concurrency), **(extra_env or {})
    )
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        return subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )


def per_process(concurrency: int, processes: int) -> int:
    """Threads per worker process: the total split evenly, rounded up (32 over 3 is 3 x 11)."""
    return -(-concurrency // processes)


@dataclass(frozen=True)
class Worker:
    """A worker process the bench started, the log it writes and its ``--hostname``."""

    process: subprocess.Popen[bytes]
    log_path: Path
    hostname: str = ""

    @property
    def node(self) -> str:
        """The name before ``@``: ping replies carry it with ``%h`` expanded after it."""
        return self.hostname.partition("@")[0]


@contextlib.contextmanager
def worker_processes(
    start: Callable[[str, Path], subprocess.Popen[bytes]],
    *,
    count: int,
    logs: Path,
    name: str,
    prefix: str,
) -> Iterator[list[Worker]]:
    """``count`` workers from ``start(hostname, log_path)``, each with its own node name and
    log; every one is stopped on exit. One worker keeps the names a single worker always had
    (``{name}.log``, ``{prefix}-{pid}@%h``)."""
    with contextlib.ExitStack() as stack:
        workers = []
        for index in range(count):
            suffix = "" if count == 1 else f"-{index}"
            hostname = f"{prefix}-{os.getpid()}{suffix}@%h"
            log_path = logs / f"{name}{suffix}.log"
            process = start(hostname, log_path)
            stack.callback(stop_process, process)
            workers.append(Worker(process, log_path, hostname))
        yield workers


def logs_tail(workers: Sequence[Worker]) -> str:
    return "\n".join(log_tail(worker.log_path) for worker in workers)


def check_running(workers: Sequence[Worker], what: str) -> None:
    """Raise with the log of the first worker that has exited."""
    for worker in workers:
        if worker.process.poll() is not None:
            raise BenchError(
                f"{what}: the worker {worker.node or worker.process.pid} exited with code "
                f"{worker.process.returncode}\n{log_tail(worker.log_path)}"
            )


def wait_until_ready(app: Any, workers: Sequence[Worker], timeout: float = 60.0) -> None:
    """Until every worker has answered a ping, not just the first: with several processes,
    devstack's wait_for_worker would return as soon as any one of them answers."""
    expected = {worker.node for worker in workers}
    answered: set[str] = set()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        check_running(workers, "starting the workers")
        for reply in app.control.ping(timeout=0.5) or []:
            answered.update(node.partition("@")[0] for node in reply)
        if expected <= answered:
            return
    missing = ", ".join(sorted(expected - answered))
    raise BenchError(f"no ping answer from {missing} within {timeout:.0f}s\n" + logs_tail(workers))


class LLMServerProcess:
    """``python -m worker.dev.llm_server`` in its own process, so it has its own GIL."""

    def __init__(self, log_path: Path, *, latency_ms: float) -> None:
        self.log_path = log_path
        self.latency_ms = latency_ms
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return self.root + "/v1"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def start(self, timeout: float = 20.0) -> str:
        command = [
            sys.executable,
            "-m",
            "worker.dev.llm_server",
            "--port",
            str(self.port),
            "--latency-ms",
            f"{self.latency_ms:g}",
        ]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=clean_env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError(
                    f"the local LLM server exited with code {self.process.returncode}\n"
                    + log_tail(self.log_path)
                )
            with contextlib.suppress(OSError):
                self.stats()
                return self.base_url
            time.sleep(0.1)
        raise BenchError(
            f"the local LLM server did not answer within {timeout}s\n" + log_tail(self.log_path)
        )

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(self.root + "/_stats", timeout=5) as response:
            return dict(json.loads(response.read()))

    def chat_requests(self) -> int:
        return int(self.stats()["chat_completions"])

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, timeout=10)
            self.process = None

    def __enter__(self) -> LLMServerProcess:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
