"""``agentworker approvals list``: an approver is told when more wait than are shown."""

from __future__ import annotations

import os
import subprocess
import sys

import sqlalchemy as sa

from models import ApprovalStatus
from tests.support.rows import RowFactory
from tests.support.stack import ROOT


def _list(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from worker.cli import main; main()", "approvals", "list", *args],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_list_says_when_the_limit_hides_more(database_url: str, engine: sa.Engine) -> None:
    with engine.begin() as connection:
        rows = RowFactory(connection)
        ids = [
            str(rows.insert("approvals", status=ApprovalStatus.PENDING, title=f"ask {n}"))
            for n in range(3)
        ]

    cut = _list(database_url, "--limit", "2")
    whole = _list(database_url, "--limit", "3")

    assert cut.returncode == 0, cut.stderr
    assert sum(approval_id in cut.stdout for approval_id in ids) == 2
    assert "showing the oldest 2; more are waiting" in cut.stderr
    assert whole.returncode == 0, whole.stderr
    assert all(approval_id in whole.stdout for approval_id in ids)
    assert "more are waiting" not in whole.stderr
