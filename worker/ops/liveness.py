"""Liveness of a worker process, as its container's healthcheck sees it (DESIGN §5.7).

"The process imports and reads its settings" is not enough: a worker whose consumer loop is
wedged, or whose lease heartbeat stopped, looks alive and serves nothing. Each worker process
keeps two marks fresh in ``AGENTWORKER_LIVENESS_DIR``: ``<host>-<pid>.consumer``, touched by
Celery's event heartbeat (sent from the consumer loop every few seconds), and
``<host>-<pid>.leases``, touched by the lease heartbeat thread on every beat. ``check`` fails
when a live process's mark is older than the allowed age.
"""

from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from pathlib import Path

MARKS = ("consumer", "leases")


@dataclass(frozen=True)
class Liveness:
    ok: bool
    detail: str


def mark_path(directory: Path, mark: str, pid: int | None = None) -> Path:
    return directory / f"{socket.gethostname()}-{pid or os.getpid()}.{mark}"


def touch(directory: Path, mark: str) -> None:
    """Mark this process's ``mark`` as alive now; never raises (a full disk must not stop
    the work, and then the healthcheck says so)."""
    try:
        path = mark_path(directory, mark)
        path.touch()
        os.utime(path)
    except OSError:
        pass


def check(directory: Path, max_age_seconds: float, *, now: float | None = None) -> Liveness:
    """Every worker process of this host that is still running has both marks fresher than
    ``max_age_seconds``. Marks of processes that ended are removed."""
    now = time.time() if now is None else now
    processes = _processes(directory)
    if not processes:
        return Liveness(False, f"no worker process has written its liveness marks in {directory}")
    stale = []
    for pid, marks in sorted(processes.items()):
        if not _running(pid):
            for path in marks.values():
                path.unlink(missing_ok=True)
            continue
        for mark in MARKS:
            path = marks.get(mark)
            age = now - path.stat().st_mtime if path is not None else None
            if age is None or age > max_age_seconds:
                shown = "never" if age is None else f"{age:.0f}s ago"
                stale.append(f"pid {pid}: its {mark} last showed life {shown}")
    if stale:
        return Liveness(
            False,
            "; ".join(stale) + f" (allowed: {max_age_seconds:g}s): the worker is wedged; "
            "restart it",
        )
    running = [pid for pid in processes if _running(pid)]
    if not running:
        return Liveness(False, f"no worker process is running (marks in {directory})")
    return Liveness(True, f"{len(running)} worker process(es) alive")


def _processes(directory: Path) -> dict[int, dict[str, Path]]:
    host = socket.gethostname()
    found: dict[int, dict[str, Path]] = {}
    for path in directory.glob(f"{host}-*.*") if directory.is_dir() else ():
        pid, _, mark = path.name.removeprefix(f"{host}-").partition(".")
        if pid.isdigit() and mark in MARKS:
            found.setdefault(int(pid), {})[mark] = path
    return found


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
