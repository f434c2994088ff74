"""A newcomer's first mistakes get one line that says what to do, from every command.

Every command in ``worker.cli.COMMANDS`` (each subcommand of a group) runs as a process, the way
a person types it, with the least it needs to reach the database:

- with ``DATABASE_URL`` unset: exit 2 (configuration), one line on stderr saying to set it;
- with ``DATABASE_URL`` at a port where nothing listens: exit 1, one line naming the host and
  port (never the password) and what to check.

Commands that never touch the database (``health --liveness``, ``schemas``) succeed either way.
``health`` without ``--liveness`` reports its checks on stdout, one line each, and exits 2 or 1.
Commands that start long-running services (``worker``, ``dev``, ``demo``, ``metrics`` without
``--once``) are never started here: only their ``--help`` is checked to load.
A table below says which case each command is; a test fails when a command has no case.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from dataclasses import dataclass

import click
import pytest
import sqlalchemy as sa

from models import Task, TaskStatus
from tests.support.agents import add_agent
from tests.support.environment import without_services
from tests.support.stack import ROOT
from worker.cli import COMMANDS, cli
from worker.dev.services import free_port
from worker.security.encryption import generate_key

SECRET = "n0t-Th3-Passw0rd"
SOME_ID = "6f1c2a4e-0d7b-4c1e-9a52-3f8e2b7d9c10"
EXAMPLE_RULE = str(ROOT / "examples" / "rules" / "rerun-on-boom.yaml")


@dataclass(frozen=True)
class Invocation:
    args: tuple[str, ...]
    stdin: str = ""


def _run(
    args: tuple[str, ...], *, stdin: str = "", **variables: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from worker.cli import main; main()", *args],
        cwd=ROOT,
        env=without_services(**variables),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


#: Commands that read or write the database first, with the arguments that get them there.
DATABASE_COMMANDS: dict[str, Invocation] = {
    "api": Invocation(("api", "--port", "1")),
    "migrate": Invocation(("migrate",)),
    "seed": Invocation(("seed",)),
    "submit": Invocation(("submit", "--tenant", "acme", "--agent", "assistant", "--input", "hi")),
    "status": Invocation(("status", SOME_ID, "--tenant", "acme")),
    "events": Invocation(("events", SOME_ID, "--tenant", "acme")),
    "knowledge ingest": Invocation(
        ("knowledge", "ingest", "--tenant", "acme", "--name", "brief", "--text", "a brief")
    ),
    "knowledge search": Invocation(("knowledge", "search", "--tenant", "acme", "venue")),
    "workflows save": Invocation(("workflows", "save", "--name", "w", "--file", "-"), "[]"),
    "workflows start": Invocation(("workflows", "start", "--tenant", "acme", "--workflow", "w")),
    "workflows status": Invocation(("workflows", "status", SOME_ID, "--tenant", "acme")),
    "workflows fork": Invocation(("workflows", "fork", SOME_ID, "--at", "1", "--tenant", "acme")),
    "runs list": Invocation(("runs", "list", "--task", SOME_ID, "--tenant", "acme")),
    "runs show": Invocation(("runs", "show", SOME_ID, "--tenant", "acme")),
    "runs fork": Invocation(("runs", "fork", SOME_ID, "--at", "1", "--tenant", "acme")),
    "runs replay": Invocation(("runs", "replay", SOME_ID, "--tenant", "acme")),
    "budgets show": Invocation(("budgets", "show", "--tenant", "acme")),
    "budgets set": Invocation(("budgets", "set", "--tenant", "acme", "--daily-usd", "5")),
    "approvals list": Invocation(("approvals", "list", "--tenant", "acme")),
    "approvals show": Invocation(("approvals", "show", SOME_ID)),
    "approvals approve": Invocation(("approvals", "approve", SOME_ID, "--user", "a@acme.test")),
    "approvals reject": Invocation(("approvals", "reject", SOME_ID, "--user", "a@acme.test")),
    "cancel": Invocation(("cancel", SOME_ID, "--tenant", "acme")),
    "dead-letters list": Invocation(("dead-letters", "list")),
    "dead-letters redrive": Invocation(("dead-letters", "redrive", SOME_ID)),
    "keys set-provider": Invocation(
        ("keys", "set-provider", "--name", "main", "--model", "gpt-4o-mini"), "sk-test-key\n"
    ),
    "keys set-secret": Invocation(
        ("keys", "set-secret", "--tenant", "acme", "--name", "crm"), "x\n"
    ),
    "keys rotate": Invocation(("keys", "rotate")),
    "keys verify": Invocation(("keys", "verify")),
    "keys grant-env-secret": Invocation(
        ("keys", "grant-env-secret", "--tenant", "acme", "--name", "CRM")
    ),
    "keys revoke-env-secret": Invocation(
        ("keys", "revoke-env-secret", "--tenant", "acme", "--name", "CRM")
    ),
    "keys issue": Invocation(
        ("keys", "issue", "--tenant", "acme", "--scope", "submit", "--name", "billing")
    ),
    "keys list": Invocation(("keys", "list", "--tenant", "acme")),
    "keys revoke": Invocation(("keys", "revoke", "awk_AbCdEfGh")),
    "users add": Invocation(
        ("users", "add", "a@acme.test", "--tenant", "acme", "--role", "member")
    ),
    "users set-password": Invocation(
        ("users", "set-password", "a@acme.test"), "a long enough password\n"
    ),
    "users token": Invocation(("users", "token", "issue", "a@acme.test", "--tenant", "acme")),
    "tenants set-broker-auth": Invocation(("tenants", "set-broker-auth", "acme", "signed")),
    "metrics": Invocation(("metrics", "--once")),
    "webhooks add": Invocation(
        ("webhooks", "add", "--tenant", "acme", "--url", "https://x.test/h", "--event", "*")
    ),
    "webhooks list": Invocation(("webhooks", "list", "--tenant", "acme")),
    "webhooks remove": Invocation(("webhooks", "remove", "--tenant", "acme", SOME_ID)),
    "webhooks deliveries": Invocation(("webhooks", "deliveries", "--tenant", "acme")),
    "webhooks resend": Invocation(("webhooks", "resend", "--tenant", "acme", SOME_ID)),
    "retention run": Invocation(("retention", "run", "--dry-run")),
    "retention policies": Invocation(("retention", "policies")),
    "retention set": Invocation(("retention", "set", "event_logs", "--keep-days", "30")),
    "rules list": Invocation(("rules", "list", "--tenant", "acme")),
    "rules save": Invocation(("rules", "save", "--tenant", "acme", "--file", EXAMPLE_RULE)),
    "rules test": Invocation(("rules", "test", "--tenant", "acme", "--file", EXAMPLE_RULE)),
    "recommendations list": Invocation(("recommendations", "list", "--tenant", "acme")),
    "recommendations feedback": Invocation(
        ("recommendations", "feedback", SOME_ID, "--tenant", "acme", "--score", "4")
    ),
    "pipeline install": Invocation(("pipeline", "install", "--tenant", "acme")),
    "pipeline start": Invocation(("pipeline", "start", "--tenant", "acme", "--project", "p")),
    "interviews list": Invocation(("interviews", "list", "--tenant", "acme")),
    "interviews show": Invocation(("interviews", "show", SOME_ID, "--tenant", "acme")),
    "interviews answer": Invocation(("interviews", "answer", SOME_ID, "yes", "--tenant", "acme")),
    "board show": Invocation(("board", "show", "--tenant", "acme", "--project", "p")),
}

#: Commands that never touch the database: they succeed whatever DATABASE_URL says.
WITHOUT_DATABASE: dict[str, Invocation] = {
    "health": Invocation(("health", "--liveness")),
    "schemas": Invocation(("schemas",)),
}

#: Commands that start services and run until stopped: never started in a test.
LONG_RUNNING = ("worker", "dev", "demo", "metrics")

#: ``health`` itself (readiness) reports every check on stdout; tested on its own below.
READINESS = "health"


def _every_command() -> set[str]:
    names: set[str] = set()
    with click.Context(cli) as ctx:
        for name in COMMANDS:
            command = cli.get_command(ctx, name)
            if isinstance(command, click.Group):
                names |= {f"{name} {sub}" for sub in command.commands}
            else:
                names.add(name)
    return names


def _unreachable_environment(port: int) -> dict[str, str]:
    return {
        "DATABASE_URL": f"postgresql://agentworker:{SECRET}@127.0.0.1:{port}/agentworker",
        "REDIS_URL": f"redis://127.0.0.1:{port}/0",
        "AGENTWORKER_ENCRYPTION_KEYS": generate_key(),
    }


def _the_one_line(result: subprocess.CompletedProcess[str]) -> str:
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, output
    assert lines[0].lower().startswith("error: "), output
    return lines[0]


def test_every_command_has_an_expectation_here() -> None:
    covered = {*DATABASE_COMMANDS, *WITHOUT_DATABASE, *LONG_RUNNING, READINESS}
    assert _every_command() <= covered, f"no case for {sorted(_every_command() - covered)}"
    assert covered <= _every_command(), f"no such command: {sorted(covered - _every_command())}"


@pytest.mark.parametrize("name", sorted(DATABASE_COMMANDS))
def test_without_database_url_a_command_says_to_set_it_and_exits_2(name: str) -> None:
    invocation = DATABASE_COMMANDS[name]
    port = free_port()
    result = _run(
        invocation.args,
        stdin=invocation.stdin,
        REDIS_URL=f"redis://127.0.0.1:{port}/0",
        AGENTWORKER_ENCRYPTION_KEYS=generate_key(),
    )

    line = _the_one_line(result)
    assert result.returncode == 2, line
    assert "DATABASE_URL is not set: export DATABASE_URL=postgresql://" in line


@pytest.mark.parametrize("name", sorted(DATABASE_COMMANDS))
def test_an_unreachable_database_is_named_with_what_to_check_and_exits_1(name: str) -> None:
    invocation = DATABASE_COMMANDS[name]
    port = free_port()
    result = _run(invocation.args, stdin=invocation.stdin, **_unreachable_environment(port))

    line = _the_one_line(result)
    assert result.returncode == 1, line
    assert f"cannot reach the database at 127.0.0.1:{port} (connection refused)" in line
    assert "check that PostgreSQL is running and DATABASE_URL points at it" in line
    assert SECRET not in result.stdout + result.stderr


@pytest.mark.parametrize("database", ["unset", "unreachable"])
@pytest.mark.parametrize("name", sorted(WITHOUT_DATABASE))
def test_a_command_that_needs_no_database_succeeds_without_one(name: str, database: str) -> None:
    invocation = WITHOUT_DATABASE[name]
    variables = _unreachable_environment(free_port()) if database == "unreachable" else {}
    result = _run(invocation.args, **variables)

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.parametrize("name", LONG_RUNNING)
def test_a_long_running_command_is_not_started_here_but_its_help_loads(name: str) -> None:
    result = _run((name, "--help"))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "Usage:" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_readiness_without_database_url_says_to_set_it_and_exits_2() -> None:
    port = free_port()
    result = _run(
        ("health", "--no-worker", "--timeout", "1"), REDIS_URL=f"redis://127.0.0.1:{port}/0"
    )

    assert result.returncode == 2, result.stdout + result.stderr
    assert "FAIL database: DATABASE_URL is not set: export DATABASE_URL=" in result.stdout
    assert result.stderr == ""


def test_readiness_names_an_unreachable_database_without_its_password() -> None:
    port = free_port()
    result = _run(("health", "--no-worker", "--timeout", "1"), **_unreachable_environment(port))

    assert result.returncode == 1, result.stdout + result.stderr
    assert f"FAIL database: cannot reach postgresql://agentworker:***@127.0.0.1:{port}" in (
        result.stdout
    )
    assert SECRET not in result.stdout + result.stderr
    assert result.stderr == ""


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        pytest.param("not a url", "DATABASE_URL is not a valid URL: set it to", id="unparsable"),
        pytest.param(
            f"mysql://agentworker:{SECRET}@127.0.0.1/app",
            "DATABASE_URL uses 'mysql'; agentworker needs PostgreSQL",
            id="not-postgresql",
        ),
    ],
)
def test_an_invalid_database_url_is_a_configuration_error(url: str, expected: str) -> None:
    result = _run(("status", SOME_ID, "--tenant", "acme"), DATABASE_URL=url)

    line = _the_one_line(result)
    assert result.returncode == 2, line
    assert expected in line
    assert SECRET not in line


def test_a_database_the_server_refuses_says_to_check_the_url(postgres_server_url: str) -> None:
    from models.db import database_url

    missing = f"aw_missing_{uuid.uuid4().hex[:8]}"
    url = database_url(postgres_server_url).set(database=missing)
    result = _run(
        ("status", SOME_ID, "--tenant", "acme"),
        DATABASE_URL=url.render_as_string(hide_password=False),
    )

    line = _the_one_line(result)
    assert result.returncode == 1, line
    assert f'refused the connection (database "{missing}" does not exist)' in line
    assert "check the user, password and database name in DATABASE_URL" in line


def test_an_unreachable_broker_is_named_and_the_task_waits_for_the_reaper(
    database_url: str, engine: sa.Engine
) -> None:
    add_agent(engine, "helper")
    port = free_port()
    result = _run(
        ("submit", "--tenant", "acme", "--agent", "helper", "--input", "hello"),
        DATABASE_URL=database_url,
        REDIS_URL=f"redis://127.0.0.1:{port}/0",
    )

    line = _the_one_line(result)
    assert result.returncode == 1, line
    assert f"cannot reach the broker at 127.0.0.1:{port} (connection refused)" in line
    assert "REDIS_URL (or CELERY_BROKER_URL)" in line
    with engine.connect() as connection:
        statuses = connection.execute(sa.select(Task.status)).scalars().all()
    assert statuses == [TaskStatus.PENDING]  # committed first: the reaper publishes it later
