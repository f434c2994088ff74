"""``agentworker workflows save``: definitions are validated when saved and versioned."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from tests.support.agents import add_agent
from tests.support.stack import ROOT


def _save(database_url: str, steps: object, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "steps.json"
    path.write_text(json.dumps(steps))
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "from worker.cli import main; main()",
            "workflows",
            "save",
            "--tenant",
            "acme",
            "--name",
            "review",
            "--file",
            str(path),
        ],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_save_creates_then_versions_and_refuses_invalid_steps(
    database_url: str, engine: sa.Engine, tmp_path: Path
) -> None:
    add_agent(engine, "helper")
    step = {"key": "draft", "kind": "agent", "agent": "helper"}

    created = _save(database_url, [step], tmp_path)
    refused = _save(database_url, [{**step, "kind": "teleport"}], tmp_path)
    edited = _save(
        database_url, [step, {"key": "gate", "kind": "approval", "title": "ok?"}], tmp_path
    )

    assert created.returncode == 0 and "saved as version 1" in created.stdout, created.stderr
    assert refused.returncode == 1 and "invalid workflow" in refused.stderr
    assert edited.returncode == 0 and "saved as version 2" in edited.stdout, edited.stderr
    with engine.connect() as connection:
        versions = (
            connection.execute(sa.text("SELECT version FROM ai_workflow_versions ORDER BY version"))
            .scalars()
            .all()
        )
    assert versions == [1, 2]
