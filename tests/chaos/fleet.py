"""The soak's processes: worker processes (``celery worker``) the driver SIGKILLs and starts
again, and one ``celery beat`` (the reaper and the expiry sweep) it leaves alone. A worker
that exits without the driver having killed it is a crash of its own: counted, its log kept,
and started again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from worker.dev.services import start_worker_process, stop_process


@dataclass
class Slot:
    index: int
    process: subprocess.Popen[bytes] | None = None
    log_path: Path | None = None
    killed_by_driver: bool = False
    starts: int = 0


@dataclass
class Fleet:
    env: dict[str, str]
    tmp: Path
    workers: int = 2
    concurrency: int = 8
    slots: list[Slot] = field(default_factory=list)
    #: (slot, exit code, last lines of its log) of every exit the driver did not cause.
    crashes: list[tuple[int, int | None, str]] = field(default_factory=list)
    kills: int = 0
    _beat: subprocess.Popen[bytes] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        self.slots = [Slot(i) for i in range(self.workers)]
        for slot in self.slots:
            self._launch(slot)
        for slot in self.slots:
            self._wait_ready(slot)
        beat_log = self.tmp / "beat.log"
        with beat_log.open("ab") as log:
            self._beat = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "worker.app",
                    "beat",
                    "--loglevel",
                    "INFO",
                    "--schedule",
                    str(self.tmp / "beat-schedule"),
                ],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def stop(self) -> None:
        with self._lock:
            for slot in self.slots:
                if slot.process is not None:
                    stop_process(slot.process, timeout=15)
            if self._beat is not None:
                stop_process(self._beat, timeout=10)

    def pids(self) -> dict[int, int]:
        """slot index -> pid of its live process."""
        with self._lock:
            return {
                s.index: s.process.pid for s in self.slots if s.process and s.process.poll() is None
            }

    def kill(self, index: int) -> None:
        """SIGKILL the worker in ``index`` (its whole process group) and start another."""
        with self._lock:
            slot = self.slots[index]
            if slot.process is not None and slot.process.poll() is None:
                slot.killed_by_driver = True
                os.killpg(slot.process.pid, signal.SIGKILL)
                slot.process.wait(10)
                self.kills += 1
            self._launch(slot)

    def watch(self) -> None:
        """Count and replace every worker that exited on its own."""
        with self._lock:
            for slot in self.slots:
                process = slot.process
                if process is None or process.poll() is None:
                    continue
                if not slot.killed_by_driver:
                    log = slot.log_path.read_text(errors="replace") if slot.log_path else ""
                    self.crashes.append((slot.index, process.returncode, _last_words(log)))
                self._launch(slot)

    def _launch(self, slot: Slot) -> None:
        slot.starts += 1
        slot.log_path = self.tmp / f"worker{slot.index}-{slot.starts}.log"
        slot.killed_by_driver = False
        slot.process = start_worker_process(
            self.env,
            slot.log_path,
            concurrency=self.concurrency,
            hostname=f"chaos{slot.index}-{slot.starts}@%h",
            extra_args=("--without-gossip", "--without-mingle"),
        )

    def _wait_ready(self, slot: Slot, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert slot.process is not None and slot.log_path is not None
            if slot.process.poll() is not None:
                raise RuntimeError(
                    f"worker {slot.index} exited at start:\n"
                    + slot.log_path.read_text(errors="replace")[-3000:]
                )
            if slot.log_path.exists() and " ready." in slot.log_path.read_text(errors="replace"):
                return
            time.sleep(0.2)
        raise RuntimeError(f"worker {slot.index} was not ready within {timeout:.0f} s")


def _last_words(log: str) -> str:
    """The worker's last critical log message (its JSON ``message``), else its log's end."""
    for line in reversed(log.splitlines()):
        if '"level": "CRITICAL"' in line:
            try:
                return str(json.loads(line)["message"])
            except (ValueError, KeyError):
                return line[-500:]
    return log[-500:]
