"""docker-compose.yml runs our real commands, is fully documented, and is safe to operate.

There is no Docker engine in the test environment, so the file is checked here: every command
it runs is parsed by the very click command (ours, or Celery's / Flower's) that will run it.
"""

from __future__ import annotations

import importlib
import itertools
import re
import shlex
import tomllib
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import click
import pytest
import yaml
from celery import Celery
from celery.bin.base import CLIContext
from celery.bin.celery import celery as celery_cli
from flower.options import options as flower_options

from models.db import database_url
from worker.app.broker_acl import WORKER_RULES
from worker.cli import cli

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
APP_SERVICES = ("migrate", "worker", "beat", "flower")
ONE_SHOT = {"migrate"}

# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?message}, ${NAME?message}; $$ escapes.
_VARIABLE = re.compile(r"(?<!\$)\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")
_BARE_VARIABLE = re.compile(r"(?<!\$)\$([A-Za-z_][A-Za-z0-9_]*)")


def _env_example() -> dict[str, str]:
    """Every variable .env.example documents (commented or not), with its example value."""
    text = (ROOT / ".env.example").read_text()
    return dict(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=(.*)$", text, flags=re.MULTILINE))


def _interpolate(value: str) -> str:
    """``value`` as compose would see it with .env.example's values (``x`` where none)."""
    example = _env_example()

    def replace(match: re.Match[str]) -> str:
        name, operator, argument = match.groups()
        if operator in (":-", "-"):
            return example.get(name) or argument
        return example.get(name) or "x"

    return _VARIABLE.sub(replace, value).replace("$$", "$")


def _argv(command: str | list[str]) -> list[str]:
    if isinstance(command, str):
        return shlex.split(_interpolate(command))
    return [_interpolate(str(part)) for part in command]


def _strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(key)
            yield from _strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)


def _healthcheck_argv(service: dict[str, Any]) -> list[str]:
    test = service["healthcheck"]["test"]
    if isinstance(test, str):
        return shlex.split(test)
    kind, *argv = test
    return shlex.split(argv[0]) if kind == "CMD-SHELL" else argv


def _commands() -> Iterator[tuple[str, list[str]]]:
    """(where, argv) of every command the file runs in one of our containers."""
    for name in APP_SERVICES:
        service = SERVICES[name]
        yield f"{name}.command", _argv(service["command"])
        if "healthcheck" in service:
            yield f"{name}.healthcheck", _healthcheck_argv(service)


def _mounts(service: dict[str, Any]) -> dict[str, str]:
    """Container path -> named volume of ``service``'s named-volume mounts."""
    mounts = {}
    for volume in service.get("volumes", []):
        source, target = volume.split(":")[:2]
        if not source.startswith((".", "/", "~")):
            mounts[target] = source
    return mounts


def _options(argv: list[str]) -> dict[str, str]:
    return dict(arg[2:].partition("=")[::2] for arg in argv if arg.startswith("--") and "=" in arg)


def test_the_stack_has_the_expected_services() -> None:
    assert set(SERVICES) == {"postgres", "redis", *APP_SERVICES}


def test_agentworker_commands_are_registered_and_their_options_parse() -> None:
    # `health` lives in worker/cli/health.py; the lead registers it on the group.
    context = click.Context(cli)
    known: dict[str, click.Command] = {
        name: command
        for name in cli.list_commands(context)
        if (command := cli.get_command(context, name)) is not None
    }
    used = [(where, argv) for where, argv in _commands() if argv[0] == "agentworker"]
    assert {argv[1] for _, argv in used} >= {"migrate", "worker", "health"}
    for where, argv in used:
        assert argv[1] in known, f"{where}: `agentworker {argv[1]}` is not a command"
        known[argv[1]].make_context(f"agentworker {argv[1]}", argv[2:])


def test_celery_commands_use_our_app_and_options_that_exist() -> None:
    used = [(where, argv) for where, argv in _commands() if argv[0] == "celery"]
    assert {argv[3] for _, argv in used} == {"beat", "flower"}
    for where, argv in used:
        assert argv[1:3] == ["-A", "worker.app"], where
        app = importlib.import_module(argv[2]).app
        assert isinstance(app, Celery)
        subcommand, args = argv[3], argv[4:]
        if subcommand == "flower":
            unknown = {name for name in _options(args) if name not in flower_options}
            assert not unknown, f"{where}: Flower has no option {unknown}"
        else:
            obj = CLIContext(app=app, no_color=True, workdir=None, quiet=True)
            celery_cli.commands[subcommand].make_context(subcommand, args, obj=obj)


def test_healthcheck_python_snippets_compile() -> None:
    for where, argv in _commands():
        if argv[:2] == ["python", "-c"]:
            compile(argv[2], where, "exec")


def test_every_variable_the_file_uses_is_documented_in_env_example() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    used = {match.group(1) for match in _VARIABLE.finditer(text)}
    used |= {name for value in _strings(COMPOSE) for name in _BARE_VARIABLE.findall(value)}
    assert used >= {"FLOWER_BASIC_AUTH", "POSTGRES_PASSWORD", "AGENTWORKER_CONCURRENCY"}
    assert used - set(_env_example()) == set()


def test_postgres_is_the_pgvector_image_on_a_named_volume() -> None:
    postgres = SERVICES["postgres"]
    assert postgres["image"].startswith("pgvector/pgvector:pg")
    assert "/var/lib/postgresql/data" in _mounts(postgres)
    assert "pg_isready" in " ".join(_healthcheck_argv(postgres))


def test_every_long_running_service_has_a_healthcheck() -> None:
    for name, service in SERVICES.items():
        if name in ONE_SHOT:
            assert service["restart"] == "no"
            continue
        check = service.get("healthcheck", {})
        assert check.get("test") and not check.get("disable"), f"{name} has no healthcheck"
        assert service["restart"] == "unless-stopped", name


def test_migrations_run_before_the_workers_start() -> None:
    assert SERVICES["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    worker_needs = SERVICES["worker"]["depends_on"]
    assert worker_needs["migrate"]["condition"] == "service_completed_successfully"
    assert worker_needs["redis"]["condition"] == "service_healthy"
    for name in ("beat", "flower"):
        assert SERVICES[name]["depends_on"]["redis"]["condition"] == "service_healthy"


def test_flower_requires_basic_auth_and_keeps_its_state_on_a_volume() -> None:
    flower = SERVICES["flower"]
    raw = _options([str(arg) for arg in flower["command"]])
    # No default: compose refuses to start Flower without credentials.
    assert re.fullmatch(r"\$\{FLOWER_BASIC_AUTH:\?[^}]+\}", raw["basic_auth"])
    options = _options(_argv(flower["command"]))
    assert options["persistent"] == "True"
    assert int(options["state_save_interval"]) > 0
    assert str(PurePosixPath(options["db"]).parent) in _mounts(flower)
    # published on localhost only: basic auth travels in clear over plain HTTP
    assert f"127.0.0.1:{options['port']}:{options['port']}" in flower["ports"]


def test_beat_keeps_its_schedule_on_a_volume() -> None:
    argv = _argv(SERVICES["beat"]["command"])
    schedule = PurePosixPath(argv[argv.index("--schedule") + 1])
    assert str(schedule.parent) in _mounts(SERVICES["beat"])


def test_redis_appends_to_a_named_volume() -> None:
    redis = SERVICES["redis"]
    assert redis["image"] == "redis:7-alpine"
    assert " ".join(redis["command"]).endswith("--appendonly yes")
    assert "/data" in _mounts(redis)


def _redis_users() -> dict[str, list[str]]:
    """User name -> ACL rules of each ``--user`` the redis service's command defines."""
    argv = _argv(SERVICES["redis"]["command"])
    users: dict[str, list[str]] = {}
    for index, arg in enumerate(argv):
        if arg == "--user":
            rules = list(itertools.takewhile(lambda a: not a.startswith("--"), argv[index + 1 :]))
            users[rules[0]] = rules[1:]
    return users


def test_redis_turns_the_default_user_off_and_gives_the_workers_a_user() -> None:
    users = _redis_users()
    assert users["default"] == ["off"]
    worker = users["agentworker"]
    assert worker[0] == "on"
    raw = [str(arg) for arg in SERVICES["redis"]["command"]]
    # No default: compose refuses to start without a password.
    assert any(re.fullmatch(r">\$\{AGENTWORKER_REDIS_PASSWORD:\?[^}]+\}", arg) for arg in raw)
    assert tuple(rule for rule in worker[1:] if not rule.startswith(">")) == WORKER_RULES
    # The healthcheck logs in as that user (with the password from the service's environment).
    check = " ".join(_healthcheck_argv(SERVICES["redis"]))
    assert "redis-cli --user agentworker" in check and "$$AGENTWORKER_REDIS_PASSWORD" in check
    assert "AGENTWORKER_REDIS_PASSWORD" in SERVICES["redis"]["environment"]


def test_every_named_volume_is_declared() -> None:
    used = {volume for service in SERVICES.values() for volume in _mounts(service).values()}
    assert used == set(COMPOSE["volumes"])


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_services_build_our_image_and_use_the_compose_services(name: str) -> None:
    service = SERVICES[name]
    assert (ROOT / service["build"]["context"] / service["build"]["dockerfile"]).is_file()
    assert service["env_file"] == ".env"
    environment = service["environment"]
    url = database_url(_interpolate(environment["DATABASE_URL"]))
    assert url.host == "postgres"
    postgres = {k: _interpolate(v) for k, v in SERVICES["postgres"]["environment"].items()}
    # Every service logs in as the confined runtime role, never as the owner (row-level
    # security would not apply to it); only `migrate` holds the owner's URL.
    assert url.username == "agentworker_app" and url.database == postgres["POSTGRES_DB"]
    owner_url = environment.get("AGENTWORKER_MIGRATION_DATABASE_URL")
    if name == "migrate":
        owner = database_url(_interpolate(owner_url))
        assert (owner.username, owner.password) == (
            postgres["POSTGRES_USER"],
            postgres["POSTGRES_PASSWORD"],
        )
        assert "--runtime-login" in service["command"]
    else:
        assert owner_url is None, f"{name} must not hold the owner's password"
    worker_password = _redis_users()["agentworker"][1].removeprefix(">")
    for variable in ("REDIS_URL", "CELERY_BROKER_URL"):
        broker = urlsplit(_interpolate(environment[variable]))
        assert (broker.scheme, broker.hostname, broker.port) == ("redis", "redis", 6379)
        assert (broker.username, broker.password) == ("agentworker", worker_password)
        assert "${AGENTWORKER_REDIS_PASSWORD:?" in environment[variable]


def test_the_dockerfile_runs_as_a_non_root_user_and_installs_flower() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", dockerfile, flags=re.MULTILINE)
    users = re.findall(r"^USER\s+(\S+)", dockerfile, flags=re.MULTILINE)
    assert users and users[-1].split(":")[0] not in {"root", "0"}
    extras = re.search(r'pip install "\.\[([a-z,]+)\]"', dockerfile)
    assert extras, "the image must install the package with the extra that provides Flower"
    optional = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    installed = [req for extra in extras.group(1).split(",") for req in optional[extra]]
    assert any(re.match(r"flower\b", requirement) for requirement in installed)
