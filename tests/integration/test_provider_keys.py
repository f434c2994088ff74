"""A tenant's provider key: stored encrypted, used by the gateway, survives key rotation."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import sqlalchemy as sa

from models import ModelUsageType
from tests.support.agents import ensure_tenant
from tests.support.stack import ROOT
from worker.core.errors import ConfigurationError
from worker.core.settings import Settings
from worker.dev.llm_server import LocalLLMServer
from worker.llm.gateway import LLMGateway
from worker.llm.providers import resolve_provider
from worker.security.encryption import SecretBox, generate_key


def _agentworker(
    database_url: str, keys: str, *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "AGENTWORKER_ENCRYPTION_KEYS": keys}
    return subprocess.run(
        [sys.executable, "-c", "from worker.cli import main; main()", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _chat_through_tenant_provider(engine: sa.Engine, keys: tuple[str, ...]) -> str:
    settings = Settings(encryption_keys=keys)
    gateway = LLMGateway(settings)
    try:
        with engine.connect() as connection:
            provider, model = resolve_provider(
                connection,
                settings,
                ensure_tenant(engine),
                usage=ModelUsageType.TASK_EXECUTION,
            )
        assert provider.name == "ai_models:acme-llm"
        return (
            gateway.chat(
                provider, model=model or "x", messages=[{"role": "user", "content": "hi"}]
            ).content
            or ""
        )
    finally:
        gateway.close()


def test_a_stored_key_is_encrypted_used_and_survives_rotation(
    database_url: str, engine: sa.Engine
) -> None:
    ensure_tenant(engine)
    old, new = generate_key(), generate_key()
    with LocalLLMServer(require_api_key="tenant-secret-key-123") as llm:
        stored = _agentworker(
            database_url,
            old,
            "keys",
            "set-provider",
            "--tenant",
            "acme",
            "--name",
            "acme-llm",
            "--model",
            "local-model",
            "--base-url",
            llm.base_url,
            stdin="tenant-secret-key-123\n",
        )
        assert stored.returncode == 0, stored.stderr
        with engine.connect() as connection:
            token = connection.execute(sa.text("SELECT api_key_encrypted FROM ai_models")).scalar()
        assert b"tenant-secret-key-123" not in bytes(token)
        assert _chat_through_tenant_provider(engine, (old,)).startswith("Answer to: hi")

        rotated = _agentworker(database_url, f"{new},{old}", "keys", "rotate")
        assert rotated.returncode == 0, rotated.stderr
        assert "ai_models.api_key_encrypted: re-encrypted 1," in rotated.stdout
        assert _chat_through_tenant_provider(engine, (new,)).startswith("Answer to: hi")
        with engine.connect() as connection:
            token = connection.execute(sa.text("SELECT api_key_encrypted FROM ai_models")).scalar()
        assert SecretBox((new,)).decrypt(bytes(token)) == "tenant-secret-key-123"


def test_a_key_is_never_taken_from_the_command_line(database_url: str, engine: sa.Engine) -> None:
    ensure_tenant(engine)
    result = _agentworker(
        database_url, generate_key(), "keys", "set-provider", "--name", "x", "--model", "m"
    )
    assert result.returncode == 2
    assert "pipe the API key on standard input" in result.stderr


def test_a_providers_known_rate_limit_is_stored_and_given_to_its_calls(
    database_url: str, engine: sa.Engine
) -> None:
    ensure_tenant(engine)
    key = generate_key()
    stored = _agentworker(
        database_url,
        key,
        "keys",
        "set-provider",
        "--tenant",
        "acme",
        "--name",
        "acme-llm",
        "--model",
        "local-model",
        "--requests-per-minute",
        "500",
        stdin="tenant-secret-key-123\n",
    )
    assert stored.returncode == 0, stored.stderr
    settings = Settings(encryption_keys=(key,))
    with engine.connect() as connection:
        provider, _ = resolve_provider(
            connection, settings, ensure_tenant(engine), usage=ModelUsageType.TASK_EXECUTION
        )
    assert provider.requests_per_minute == 500

    with engine.begin() as connection:
        connection.execute(
            sa.text("""UPDATE ai_models SET config = '{"requests_per_minute": "lots"}'""")
        )
    with engine.connect() as connection, pytest.raises(ConfigurationError, match="'lots'"):
        resolve_provider(
            connection, settings, ensure_tenant(engine), usage=ModelUsageType.TASK_EXECUTION
        )
