"""Liveness marks: a worker process is alive while both its marks are fresh."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from worker.ops import liveness


def test_fresh_marks_of_a_running_process_are_alive(tmp_path: Path) -> None:
    for mark in liveness.MARKS:
        liveness.touch(tmp_path, mark)
    result = liveness.check(tmp_path, 60)
    assert result.ok, result.detail


def test_a_stale_mark_says_which_and_how_old(tmp_path: Path) -> None:
    for mark in liveness.MARKS:
        liveness.touch(tmp_path, mark)
    old = time.time() - 120
    os.utime(liveness.mark_path(tmp_path, "consumer"), (old, old))
    result = liveness.check(tmp_path, 60)
    assert not result.ok
    assert f"pid {os.getpid()}: its consumer last showed life 120s ago" in result.detail


def test_a_missing_mark_is_never(tmp_path: Path) -> None:
    liveness.touch(tmp_path, "consumer")
    result = liveness.check(tmp_path, 60)
    assert not result.ok and "its leases last showed life never" in result.detail


def test_marks_of_a_process_that_ended_are_removed_and_do_not_count(tmp_path: Path) -> None:
    ended = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    )
    pid = int(ended.stdout)
    for mark in liveness.MARKS:
        liveness.mark_path(tmp_path, mark, pid).touch()
    result = liveness.check(tmp_path, 60)
    assert not result.ok and "no worker process is running" in result.detail
    assert list(tmp_path.iterdir()) == []


def test_no_marks_at_all_is_not_alive(tmp_path: Path) -> None:
    assert not liveness.check(tmp_path / "missing", 60).ok
