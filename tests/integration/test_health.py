"""``agentworker health`` against real PostgreSQL and Redis, run as a process so exit codes are
the ones an orchestrator sees: 0 ready, 1 not ready, 2 bad configuration."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from models import AIModel
from worker.app import create_app
from worker.dev.services import free_port, start_worker_process, stop_process, wait_for_worker
from worker.durable.schema import head_revision
from worker.ops.health import redact_url

ROOT = Path(__file__).resolve().parents[2]
HEALTH = "from worker.cli.health import health; health()"
SECRET = "s3cret-Passw0rd"
#: An OpenAI-compatible endpoint (nothing needs to answer there for readiness).
ENDPOINT = "http://127.0.0.1:9/v1"


def _env(**variables: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"}
        and not key.startswith(("AGENTWORKER_", "OPENAI_"))
    }
    return {**env, **variables}


def _health(*args: str, **variables: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", HEALTH, *args],
        cwd=ROOT,
        env=_env(**variables),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _lines(result: subprocess.CompletedProcess[str]) -> dict[str, str]:
    """Check name -> its printed line."""
    lines = result.stdout.splitlines()
    return {line.split()[1].rstrip(":"): line for line in lines}


def test_ready_without_a_worker_exits_0(database_url: str, broker_url: str) -> None:
    result = _health(
        "--no-worker", DATABASE_URL=database_url, REDIS_URL=broker_url, OPENAI_BASE_URL=ENDPOINT
    )

    assert result.returncode == 0, result.stdout + result.stderr
    lines = _lines(result)
    assert set(lines) == {"broker", "database", "provider"}
    assert lines["broker"] == f"ok broker {redact_url(broker_url)}"
    assert lines["database"].startswith("ok database postgresql")
    assert lines["database"].endswith(f"at revision {head_revision()}")


def test_json_output_lists_every_check(database_url: str, broker_url: str) -> None:
    result = _health(
        "--no-worker",
        "--json",
        DATABASE_URL=database_url,
        REDIS_URL=broker_url,
        OPENAI_BASE_URL=ENDPOINT,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    report = json.loads(result.stdout)
    assert report["ready"] is True
    assert [(c["name"], c["ok"]) for c in report["checks"]] == [
        ("broker", True),
        ("database", True),
        ("provider", True),
    ]


@pytest.mark.parametrize(
    "unreachable",
    [
        pytest.param(f"postgresql://agentworker:{SECRET}@127.0.0.1:{{port}}/app", id="closed-port"),
        pytest.param("postgresql://agentworker@/app?host=/nonexistent-socket-dir", id="no-socket"),
    ],
)
def test_an_unreachable_database_is_not_ready(unreachable: str, broker_url: str) -> None:
    url = unreachable.format(port=free_port())
    result = _health("--no-worker", DATABASE_URL=url, REDIS_URL=broker_url)

    assert result.returncode == 1, result.stdout + result.stderr
    line = _lines(result)["database"]
    assert line.startswith("FAIL database: cannot reach postgresql://agentworker")
    assert "check that PostgreSQL is running and DATABASE_URL points at it" in line
    assert _lines(result)["broker"].startswith("ok broker")
    assert _lines(result)["provider"].startswith("FAIL provider: not checked:")
    assert SECRET not in result.stdout + result.stderr


def test_an_unmigrated_database_is_not_ready_and_says_how_to_fix_it(
    empty_database_url: str, broker_url: str
) -> None:
    result = _health("--no-worker", DATABASE_URL=empty_database_url, REDIS_URL=broker_url)

    assert result.returncode == 1, result.stdout + result.stderr
    line = _lines(result)["database"]
    assert line.startswith("FAIL database:")
    assert "none (empty schema)" in line
    assert "run `agentworker migrate`" in line


def test_an_unreachable_broker_is_not_ready(database_url: str) -> None:
    broker = f"redis://:{SECRET}@127.0.0.1:{free_port()}/0"
    result = _health(
        "--timeout", "1", DATABASE_URL=database_url, REDIS_URL=broker, OPENAI_BASE_URL=ENDPOINT
    )

    assert result.returncode == 1, result.stdout + result.stderr
    lines = _lines(result)
    assert lines["broker"].startswith("FAIL broker: cannot connect to redis://:***@127.0.0.1")
    assert lines["database"].startswith("ok database")
    assert lines["worker"] == "FAIL worker: not checked: the broker is unreachable"
    assert SECRET not in result.stdout + result.stderr


def test_no_worker_answering_is_not_ready(database_url: str, broker_url: str) -> None:
    result = _health(
        "--timeout", "1", DATABASE_URL=database_url, REDIS_URL=broker_url, OPENAI_BASE_URL=ENDPOINT
    )

    assert result.returncode == 1, result.stdout + result.stderr
    assert _lines(result)["worker"] == (
        "FAIL worker: no worker answered a ping within 1s: start one with `agentworker worker`"
    )


@pytest.mark.slow
def test_a_running_worker_makes_the_deployment_ready(
    runtime_database_url: str, broker_url: str, tmp_path: Path
) -> None:
    env = _env(
        DATABASE_URL=runtime_database_url,
        REDIS_URL=broker_url,
        OPENAI_BASE_URL=ENDPOINT,
        PYTHONUNBUFFERED="1",
    )
    log = tmp_path / "worker.log"
    process = start_worker_process(env, log, concurrency=1)
    app = create_app(broker_url)
    try:
        wait_for_worker(app, process, log)
        result = _health(
            DATABASE_URL=runtime_database_url, REDIS_URL=broker_url, OPENAI_BASE_URL=ENDPOINT
        )
    finally:
        stop_process(process)
        app.close()

    assert result.returncode == 0, result.stdout + result.stderr + log.read_text()
    worker_line = _lines(result)["worker"]
    assert worker_line.startswith(f"ok worker agentworker-{os.getpid()}@")
    assert worker_line.endswith("answered a ping")


# --- the LLM provider: a worker with none refuses to start, and readiness says so ------------


def test_no_provider_anywhere_is_not_ready_and_says_which_variable_to_set(
    database_url: str, broker_url: str
) -> None:
    result = _health("--no-worker", DATABASE_URL=database_url, REDIS_URL=broker_url)

    assert result.returncode == 2, result.stdout + result.stderr
    line = _lines(result)["provider"]
    assert line.startswith("FAIL provider: no LLM provider is configured: set OPENAI_API_KEY")
    assert "AGENTWORKER_LOCAL_LLM=1" in line
    assert _lines(result)["database"].startswith("ok database")


def test_an_active_ai_models_row_is_a_provider(
    database_url: str, broker_url: str, engine: sa.Engine
) -> None:
    with engine.begin() as connection:
        connection.execute(
            sa.insert(AIModel).values(
                name="shared-llm", provider="openai", model="gpt-4o-mini", base_url=ENDPOINT
            )
        )
    result = _health("--no-worker", DATABASE_URL=database_url, REDIS_URL=broker_url)

    assert result.returncode == 0, result.stdout + result.stderr
    assert _lines(result)["provider"].startswith("ok provider 1 active ai_models row")


def test_an_inactive_ai_models_row_is_no_provider(
    database_url: str, broker_url: str, engine: sa.Engine
) -> None:
    with engine.begin() as connection:
        connection.execute(
            sa.insert(AIModel).values(
                name="old-llm", provider="openai", model="gpt-4o-mini", is_active=False
            )
        )
    result = _health("--no-worker", DATABASE_URL=database_url, REDIS_URL=broker_url)

    assert result.returncode == 2, result.stdout + result.stderr
    assert _lines(result)["provider"].startswith("FAIL provider: no LLM provider is configured")


def test_an_endpoint_without_the_flag_is_a_provider(database_url: str, broker_url: str) -> None:
    result = _health(
        "--no-worker", DATABASE_URL=database_url, REDIS_URL=broker_url, OPENAI_BASE_URL=ENDPOINT
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert _lines(result)["provider"] == f"ok provider OPENAI_BASE_URL {ENDPOINT}"


def test_the_stand_in_on_purpose_is_named_as_such(database_url: str, broker_url: str) -> None:
    result = _health(
        "--no-worker",
        DATABASE_URL=database_url,
        REDIS_URL=broker_url,
        OPENAI_BASE_URL=ENDPOINT,
        AGENTWORKER_LOCAL_LLM="1",
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert _lines(result)["provider"] == (
        f"ok provider the local stand-in LLM at {ENDPOINT} (AGENTWORKER_LOCAL_LLM=1)"
    )


def test_the_flag_without_the_stand_ins_address_is_not_ready(
    database_url: str, broker_url: str
) -> None:
    result = _health(
        "--no-worker", DATABASE_URL=database_url, REDIS_URL=broker_url, AGENTWORKER_LOCAL_LLM="1"
    )

    assert result.returncode == 2, result.stdout + result.stderr
    assert _lines(result)["provider"].startswith(
        "FAIL provider: AGENTWORKER_LOCAL_LLM=1 but OPENAI_BASE_URL is not set"
    )


def test_a_provider_url_is_shown_without_its_password(database_url: str, broker_url: str) -> None:
    result = _health(
        "--no-worker",
        DATABASE_URL=database_url,
        REDIS_URL=broker_url,
        OPENAI_BASE_URL=f"https://proxy:{SECRET}@llm.example/v1",
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert (
        _lines(result)["provider"]
        == "ok provider OPENAI_BASE_URL https://proxy:[REDACTED]@llm.example/v1"
    )
    assert SECRET not in result.stdout


@pytest.mark.parametrize("configured", [False, True], ids=["nothing-configured", "services-down"])
def test_liveness_needs_no_service(configured: bool) -> None:
    variables = (
        {
            "DATABASE_URL": f"postgresql://u:p@127.0.0.1:{free_port()}/db",
            "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
        }
        if configured
        else {}
    )
    result = _health("--liveness", **variables)

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("ok process settings read")


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"DATABASE_URL": "mysql://u:p@localhost/db"}, "FAIL database: invalid DATABASE_URL"),
        ({"AGENTWORKER_LEASE_SECONDS": "-1"}, "FAIL settings: invalid settings"),
    ],
    ids=["foreign-database-url", "invalid-setting"],
)
def test_bad_configuration_exits_2(
    variables: dict[str, str], message: str, broker_url: str
) -> None:
    result = _health("--no-worker", REDIS_URL=broker_url, **variables)

    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stdout


def test_bad_configuration_fails_liveness_too() -> None:
    result = _health("--liveness", AGENTWORKER_CONCURRENCY="many")

    assert result.returncode == 2, result.stdout + result.stderr
    assert "AGENTWORKER_CONCURRENCY must be a whole number" in result.stdout


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("redis://:pw@redis:6379/0", "redis://:***@redis:6379/0"),
        ("amqp://guest:guest@rabbit:5672//", "amqp://guest:***@rabbit:5672//"),
        (
            "postgresql://app:p%40ss@db/app?sslmode=require",
            "postgresql://app:***@db/app?sslmode=require",
        ),
        ("redis://redis:6379/0", "redis://redis:6379/0"),
    ],
)
def test_urls_are_shown_without_their_password(url: str, shown: str) -> None:
    assert redact_url(url) == shown
