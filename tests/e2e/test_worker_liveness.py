"""A wedged worker does not look healthy: ``agentworker health --liveness --worker`` (the
worker container's healthcheck) passes while a real worker runs and fails once it stops
showing life (here: the process is frozen with SIGSTOP)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.support.stack import Stack, wait_until


def _liveness(stack: Stack, marks: Path) -> subprocess.CompletedProcess[str]:
    env = stack.worker_env(
        AGENTWORKER_LIVENESS_DIR=str(marks), AGENTWORKER_LIVENESS_MAX_AGE_SECONDS="4"
    )
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "from worker.cli import main; main()",
            "health",
            "--liveness",
            "--worker",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_liveness_passes_while_the_worker_runs_and_fails_when_it_is_wedged(
    stack: Stack, tmp_path: Path
) -> None:
    marks = tmp_path / "marks"
    worker = stack.start_worker(AGENTWORKER_LIVENESS_DIR=str(marks), AGENTWORKER_LEASE_SECONDS="3")
    alive = wait_until(
        lambda: result if (result := _liveness(stack, marks)).returncode == 0 else None,
        timeout=30,
        failure=lambda: _liveness(stack, marks).stdout + worker.log()[-2000:],
    )
    assert "worker process" in alive.stdout

    os.kill(worker.process.pid, signal.SIGSTOP)
    try:
        time.sleep(6)
        wedged = _liveness(stack, marks)
    finally:
        os.kill(worker.process.pid, signal.SIGCONT)
    assert wedged.returncode == 1, wedged.stdout + wedged.stderr
    assert "the worker is wedged" in wedged.stdout
