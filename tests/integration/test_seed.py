from __future__ import annotations

import json
import os
import subprocess
import sys

import sqlalchemy as sa

import models


def _agentworker(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from worker.cli import main; main()", *args],
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        check=False,
    )


def _row_counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            name: connection.execute(sa.text(f"SELECT count(*) FROM {name}")).scalar_one()
            for name in models.Base.metadata.tables
        }


def test_seed_creates_the_demo_data_once(database_url: str, engine: sa.Engine) -> None:
    first = _agentworker(database_url, "seed", "--json")
    assert first.returncode == 0, first.stderr
    created = json.loads(first.stdout)["created"]
    assert created["tenants"] == 1
    assert created["tenant_memberships"] == 3
    assert created["ai_agents"] >= 4
    assert created["ai_workflows"] == created["ai_workflow_versions"] == created["events"] == 1
    counts = _row_counts(engine)

    second = _agentworker(database_url, "seed", "--json")
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["created"] == {}
    assert _row_counts(engine) == counts

    with engine.connect() as connection:
        roles = connection.execute(
            sa.text(
                "SELECT u.email, m.role FROM tenant_memberships m JOIN users u ON u.id = m.user_id"
            )
        ).all()
    assert ("adam.approver@acme.example", "approver") in roles


def test_seed_refuses_an_unmigrated_database(empty_database_url: str) -> None:
    result = _agentworker(empty_database_url, "seed")
    assert result.returncode == 2
    assert "run `agentworker migrate`" in result.stderr


def test_migrate_brings_an_empty_database_to_head(empty_database_url: str) -> None:
    result = _agentworker(empty_database_url, "migrate")
    assert result.returncode == 0, result.stderr
    assert "migrated to head" in result.stdout
    assert _agentworker(empty_database_url, "seed").returncode == 0
