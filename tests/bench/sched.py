"""CPU read exactly: the scheduler's ``se.sum_exec_runtime`` (ns of CPU each thread has run) from
``/proc/PID/task/TID/sched``, summed over a process's threads, instead of /proc/PID/stat's
ticks (10 ms each).

``/proc/PID/sched`` holds one thread's figure, so a ``Runtime`` sums every thread of its
processes and remembers each thread it has seen: a thread or a PostgreSQL backend that exits
keeps the runtime it had at its last sample (what it ran after that sample, at most one sampling
interval, is lost), so the total never goes down.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path

from tests.bench.procs import children_of

_FIELD = "se.sum_exec_runtime"
_CLIENT_BACKEND = re.compile(r"\(\d+\)|\[local\]")  # "postgres: user db 127.0.0.1(5432) idle"


def thread_runtime_ns(pid: int, tid: int) -> int | None:
    try:
        text = Path(f"/proc/{pid}/task/{tid}/sched").read_text()
    except OSError:
        return None
    start = text.find(_FIELD)
    if start < 0:
        return None
    value = text[text.index(":", start) + 1 : text.index("\n", start)].strip()
    whole, _, fraction = value.partition(".")  # milliseconds with 6 decimals
    return int(whole) * 1_000_000 + int((fraction + "000000")[:6])


def threads_of(pid: int) -> list[int]:
    try:
        return [int(tid) for tid in os.listdir(f"/proc/{pid}/task")]
    except OSError:
        return []


class Runtime:
    """Seconds of CPU run by the processes ``pids()`` names (looked up at every call), as a
    counter that only grows."""

    def __init__(self, pids: Callable[[], Iterable[int]]) -> None:
        self.pids = pids
        self._seen: dict[tuple[int, int], int] = {}
        self._gone = 0

    def __call__(self) -> float:
        for pid in self.pids():
            for tid in threads_of(pid):
                value = thread_runtime_ns(pid, tid)
                if value is None:
                    continue
                key = (pid, tid)
                previous = self._seen.get(key, 0)
                if value < previous:  # the id was reused by a new thread
                    self._gone += previous
                self._seen[key] = value
        return (self._gone + sum(self._seen.values())) / 1e9


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


def postgres_backends(postmaster: int) -> list[int]:
    """The client backends: one per connection, the processes that run the statements."""
    return [pid for pid in children_of(postmaster) if _CLIENT_BACKEND.search(cmdline(pid))]


def postgres_server(postmaster: int) -> list[int]:
    """The postmaster and its background processes (WAL writer, checkpointer, autovacuum...)."""
    others = [pid for pid in children_of(postmaster) if not _CLIENT_BACKEND.search(cmdline(pid))]
    return [postmaster, *others]
