"""A peer's processes, started with its venv's interpreter: stdout is a pipe the driver reads
line by line ("ready", "result {...}"), stdin takes the driver's "go" and "stop", stderr goes to
the process's log."""

from __future__ import annotations

import contextlib
import queue
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from tests.bench.procs import ROOT, BenchError, Worker, clean_env, log_tail
from worker.dev.services import stop_process


class PeerProcess:
    def __init__(self, python: Path, args: Sequence[str], log_path: Path, env: dict[str, str]):
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path = log_path
        self._log = log_path.open("ab")
        self.process = subprocess.Popen(
            [str(python), *args],
            cwd=ROOT,
            env=clean_env(**env),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            start_new_session=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True, name="bench-peer-stdout").start()

    @property
    def worker(self) -> Worker:
        return Worker(self.process, self.log_path)  # type: ignore[arg-type]

    def _read(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            self.lines.put(raw.decode(errors="replace").rstrip("\n"))

    def expect(self, prefix: str, timeout: float) -> str:
        """The next stdout line that starts with ``prefix``."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                if self.process.poll() is not None and self.lines.empty():
                    raise BenchError(
                        f"{self.log_path.stem}: exited with code {self.process.returncode} "
                        f"before saying {prefix!r}\n{log_tail(self.log_path)}"
                    ) from None
                if time.monotonic() > deadline:
                    raise BenchError(
                        f"{self.log_path.stem}: did not say {prefix!r} within {timeout:.0f}s\n"
                        + log_tail(self.log_path)
                    ) from None
                continue
            if line.startswith(prefix):
                return line[len(prefix) :].strip()

    def say(self, line: str) -> None:
        assert self.process.stdin is not None
        with contextlib.suppress(OSError):
            self.process.stdin.write(line.encode() + b"\n")
            self.process.stdin.flush()

    def stop(self) -> None:
        self.say("stop")
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(10)
        stop_process(self.process)  # type: ignore[arg-type]
        self._log.close()


@contextlib.contextmanager
def peer_processes(processes: list[PeerProcess]) -> Iterator[list[PeerProcess]]:
    try:
        yield processes
    finally:
        for process in processes:
            process.stop()


def run_once(python: Path, args: Sequence[str], log_path: Path, env: dict[str, str]) -> None:
    """A set-up command: it must exit 0."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        done = subprocess.run(
            [str(python), *args],
            cwd=ROOT,
            env=clean_env(**env),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=600,
        )
    if done.returncode != 0:
        raise BenchError(
            f"{' '.join(args[:3])}: exited with code {done.returncode}\n{log_tail(log_path)}"
        )
