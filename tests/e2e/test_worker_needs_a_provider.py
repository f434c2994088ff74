"""A worker with no LLM provider anywhere refuses to start, in one line that says which variable
to set; it never falls back to a stand-in. A provider is OPENAI_API_KEY, OPENAI_BASE_URL (any
OpenAI-compatible endpoint, the local stand-in included), an active ai_models row, or the local
stand-in asked for on purpose (AGENTWORKER_LOCAL_LLM=1 with OPENAI_BASE_URL)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from models import AIModel, TaskStatus
from tests.support.agents import add_agent
from tests.support.stack import ROOT, Stack, wait_until
from worker.dev.services import start_worker_process, stop_process

CELERY = (sys.executable, "-m", "celery", "-A", "worker.app", "worker", "--pool", "threads")
AGENTWORKER = (sys.executable, "-c", "from worker.cli import main; main()", "worker")
COMMANDS = {
    "celery worker": (*CELERY, "--concurrency", "1", "--without-gossip", "--without-mingle"),
    "agentworker worker": (*AGENTWORKER, "--concurrency", "1"),
    "agentworker worker --processes 2": (*AGENTWORKER, "--concurrency", "1", "--processes", "2"),
}


def _env(database_url: str, broker_url: str, **variables: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AGENTWORKER_", "OPENAI_", "CELERY_"))
        and key not in {"DATABASE_URL", "REDIS_URL"}
    }
    return {**env, "DATABASE_URL": database_url, "CELERY_BROKER_URL": broker_url, **variables}


def _refused(command: str, env: dict[str, str]) -> str:
    """Run the worker, which must exit 2 at once; the one line it wrote on stderr."""
    argv = [*COMMANDS[command], "--hostname", f"refused-{uuid.uuid4().hex[:6]}@test"]
    result = subprocess.run(
        argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Traceback" not in output and " ready." not in output, output
    # Celery itself may warn first (running as root, in a container); ours is the last line.
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert [line for line in lines if line.startswith("error: ")] == lines[-1:], output
    return lines[-1]


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_worker_with_no_provider_refuses_to_start_saying_which_variable_to_set(
    command: str, runtime_database_url: str, broker_url: str
) -> None:
    line = _refused(command, _env(runtime_database_url, broker_url))

    assert line.startswith("error: no LLM provider is configured: set OPENAI_API_KEY"), line
    assert "AGENTWORKER_LOCAL_LLM=1" in line and "ai_models" in line


def test_the_stand_in_asked_for_without_its_address_is_refused(
    runtime_database_url: str, broker_url: str
) -> None:
    env = _env(
        runtime_database_url, broker_url, AGENTWORKER_LOCAL_LLM="1", OPENAI_API_KEY="sk-x" * 6
    )
    line = _refused("celery worker", env)

    assert line.startswith("error: AGENTWORKER_LOCAL_LLM=1 but OPENAI_BASE_URL is not set"), line


def test_an_active_ai_models_row_lets_a_worker_start(
    runtime_database_url: str, broker_url: str, engine: sa.Engine, tmp_path: Path
) -> None:
    with engine.begin() as connection:
        connection.execute(
            sa.insert(AIModel).values(
                name="shared", provider="openai", model="gpt-4o-mini", base_url="http://x/v1"
            )
        )
    log = tmp_path / "worker.log"
    process = start_worker_process(
        _env(runtime_database_url, broker_url, PYTHONUNBUFFERED="1"),
        log,
        concurrency=1,
        hostname=f"rows-{uuid.uuid4().hex[:6]}@test",
        extra_args=("--without-gossip", "--without-mingle"),
    )
    try:
        wait_until(
            lambda: " ready." in log.read_text(errors="replace") or None,
            timeout=60,
            failure=lambda: f"exit {process.poll()}:\n{log.read_text(errors='replace')[-3000:]}",
        )
    finally:
        stop_process(process)


def test_the_stand_ins_address_without_the_flag_is_just_an_endpoint(stack: Stack) -> None:
    add_agent(stack.engine, "helper")
    stack.start_worker(AGENTWORKER_LOCAL_LLM="")

    task_id = stack.client.submit(tenant="acme", agent="helper", input="hello")
    assert stack.wait_for(task_id).status == TaskStatus.SUCCEEDED


def test_a_worker_refuses_to_start_on_a_database_not_at_the_schema_revision(
    empty_database_url: str, broker_url: str
) -> None:
    env = _env(empty_database_url, broker_url, OPENAI_API_KEY="sk-test-" + "x" * 20)
    line = _refused("celery worker", env)

    assert line.startswith("error: database is at revision none (empty schema)"), line
    assert "run `agentworker migrate`" in line


def test_a_worker_without_a_database_url_refuses_to_start_saying_what_to_set(
    broker_url: str,
) -> None:
    env = _env("", broker_url, OPENAI_API_KEY="sk-test-" + "x" * 20)
    del env["DATABASE_URL"]
    line = _refused("celery worker", env)

    assert line.startswith("error: DATABASE_URL is not set"), line


def test_a_worker_refuses_a_database_role_that_row_level_security_would_not_confine(
    database_url: str, broker_url: str
) -> None:
    env = _env(database_url, broker_url, OPENAI_API_KEY="sk-test-" + "x" * 20)
    line = _refused("celery worker", env)
    assert "superuser" in line and "agentworker_runtime" in line, line
