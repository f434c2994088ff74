"""Worker processes that start in half the CPU: forked from a server process that has already
imported the heavy third-party libraries (Celery, kombu, SQLAlchemy, psycopg, openai,
pydantic), for the fault campaign, which starts over a hundred workers on two cores.

Each child then sets its own environment and runs ``celery worker`` exactly as the command
line would: none of *our* modules is imported before that (this module imports only the
standard library), so settings, ``celeryconfig`` and the fault point are read from the
child's own environment. ``ForkedWorker`` answers like the ``subprocess.Popen`` that
``tests.support.stack.WorkerProcess`` expects (pid, poll, wait, returncode); the child leads
a process group of its own, as ``start_new_session`` makes one.
"""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import threading
from pathlib import Path

#: Imported once, in the fork server; nothing of ours (it would read the server's environment).
PRELOAD = [
    "celery",
    "celery.bin.celery",
    "celery.apps.worker",
    "celery.worker",
    "celery.concurrency.thread",
    "kombu.transport.redis",
    "redis",
    "openai",
    "sqlalchemy",
    "sqlalchemy.dialects.postgresql",
    "psycopg",
    "pydantic",
    "tenacity",
]

_context_lock = threading.Lock()
_context: multiprocessing.context.ForkServerContext | None = None


def _fork_server() -> multiprocessing.context.ForkServerContext:
    global _context
    with _context_lock:
        if _context is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(PRELOAD)
            _context = context
        return _context


class ForkedWorker:
    """A ``celery`` command run in a child of the fork server."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path, cwd: Path) -> None:
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.args = args
        self._process = _fork_server().Process(
            target=_run_celery,
            args=(args, dict(env), str(log_path), str(cwd)),
            name=f"celery-{log_path.stem}",
        )
        self._process.start()

    @property
    def pid(self) -> int:
        assert self._process.pid is not None
        return self._process.pid

    @property
    def returncode(self) -> int | None:
        return self._process.exitcode

    def poll(self) -> int | None:
        return None if self._process.is_alive() else self._process.exitcode

    def wait(self, timeout: float | None = None) -> int | None:
        self._process.join(timeout)
        if self._process.exitcode is None:
            raise subprocess.TimeoutExpired(self.args, timeout or 0)
        return self._process.exitcode


def _run_celery(args: list[str], env: dict[str, str], log_path: str, cwd: str) -> None:
    """In the child: a session of its own, the given environment, the log on stdout/stderr,
    then ``celery <args>`` as if from the command line."""
    os.setsid()
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    sys.stderr.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    sys.argv = ["celery", *args]
    from celery.__main__ import main

    main()
