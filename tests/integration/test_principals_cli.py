"""``agentworker keys issue|list|revoke``, ``users add|set-password|token …`` and
``tenants set-broker-auth``: thin commands over the principals' services."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from tests.support.agents import ensure_tenant
from worker.cli import cli
from worker.core.settings import get_settings
from worker.security.api_keys import authenticate_bearer
from worker.security.encryption import generate_key
from worker.security.user_tokens import authenticate_user_token
from worker.security.users import authenticate_password


@pytest.fixture
def run(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("AGENTWORKER_ENCRYPTION_KEYS", generate_key())
    get_settings.cache_clear()

    def invoke(*args: str, stdin: str | None = None) -> Result:
        return CliRunner().invoke(cli, list(args), input=stdin, catch_exceptions=False)

    yield invoke
    get_settings.cache_clear()


def test_keys_issue_prints_the_key_once_and_list_never_shows_it(run, engine: sa.Engine) -> None:  # type: ignore[no-untyped-def]
    ensure_tenant(engine)

    issued = run(
        "keys", "issue", "--tenant", "acme", "--scope", "submit", "--scope", "read",
        "--name", "billing", "--expires-in", "90d",
    )  # fmt: skip
    key = issued.stdout.splitlines()[0]
    with engine.begin() as connection:
        assert authenticate_bearer(connection, key).label == f"key {key[:12]} (billing)"
    listed = run("keys", "list", "--tenant", "acme")
    as_json = run("keys", "list", "--tenant", "acme", "--json")

    assert issued.exit_code == 0, issued.output
    assert key.startswith("awk_")
    assert "it is not shown again" in issued.stderr
    assert key[:12] in listed.stdout and "billing" in listed.stdout
    assert "submit,read" in listed.stdout and "active" in listed.stdout
    assert key not in listed.output + as_json.output
    (entry,) = json.loads(as_json.stdout)
    assert (entry["prefix"], entry["scopes"], entry["state"]) == (
        key[:12],
        ["submit", "read"],
        "active",
    )
    assert entry["expires_at"] is not None and entry["last_used_at"] is not None


def test_keys_revoke_takes_the_prefix(run, engine: sa.Engine) -> None:  # type: ignore[no-untyped-def]
    ensure_tenant(engine)
    key = run(
        "keys", "issue", "--tenant", "acme", "--scope", "submit", "--name", "n"
    ).stdout.split()[0]

    revoked = run("keys", "revoke", key[:12])
    unknown = run("keys", "revoke", "awk_00000000")

    assert revoked.exit_code == 0 and "revoked" in revoked.stdout
    assert "revoked" in run("keys", "list", "--tenant", "acme").stdout
    assert unknown.exit_code == 1
    assert "no API key with prefix 'awk_00000000'" in unknown.output


def test_a_bad_expiry_is_refused_saying_how_to_write_one(run, engine: sa.Engine) -> None:  # type: ignore[no-untyped-def]
    ensure_tenant(engine)

    result = run(
        "keys",
        "issue",
        "--tenant",
        "acme",
        "--scope",
        "submit",
        "--name",
        "n",
        "--expires-in",
        "soon",
    )

    assert result.exit_code == 2
    assert "e.g. 90d" in result.output


def test_users_add_then_set_password_from_stdin_lets_them_sign_in(run, engine: sa.Engine) -> None:  # type: ignore[no-untyped-def]
    ensure_tenant(engine)

    added = run("users", "add", "ada@example.com", "--tenant", "acme", "--role", "approver")
    password = run("users", "set-password", "ada@example.com", stdin="a long enough passphrase\n")

    assert added.exit_code == 0 and "created and added" in added.stdout
    assert password.exit_code == 0, password.output
    with engine.begin() as connection:
        principal = authenticate_password(
            connection, "ada@example.com", "a long enough passphrase", tenant="acme"
        )
    assert principal.label == "ada@example.com"


def test_users_token_issue_list_revoke(run, engine: sa.Engine) -> None:  # type: ignore[no-untyped-def]
    ensure_tenant(engine)
    run("users", "add", "ada@example.com", "--tenant", "acme", "--role", "member")

    token = run(
        "users", "token", "issue", "ada@example.com", "--tenant", "acme", "--name", "cron"
    ).stdout.split()[0]
    with engine.begin() as connection:
        assert authenticate_user_token(connection, token).label == "ada@example.com"
    listed = run("users", "token", "list", "ada@example.com", "--tenant", "acme")
    revoked = run("users", "token", "revoke", token[:12])

    assert token.startswith("awu_")
    assert token[:12] in listed.stdout and token not in listed.stdout
    assert revoked.exit_code == 0 and "revoked" in revoked.stdout


def test_tenants_set_broker_auth_switches_the_mode(run, engine: sa.Engine) -> None:  # type: ignore[no-untyped-def]
    ensure_tenant(engine)

    signed = run("tenants", "set-broker-auth", "acme", "signed")

    assert signed.exit_code == 0 and "accepts only signed submissions" in signed.stdout
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT broker_auth FROM tenants")).scalar() == "signed"
    assert run("tenants", "set-broker-auth", "acme", "trusted").exit_code == 0
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT broker_auth FROM tenants")).scalar() == "trusted"
