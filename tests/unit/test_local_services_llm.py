"""``agentworker demo`` / ``dev`` (``worker.dev.services.local_services``) use the local stand-in
LLM on purpose: they start it when no provider is given (or AGENTWORKER_LOCAL_LLM=1 asks for it)
and tell their workers so with AGENTWORKER_LOCAL_LLM=1 and OPENAI_BASE_URL."""

from __future__ import annotations

import urllib.request
from pathlib import Path

import pytest

from worker.core.settings import Settings
from worker.dev.services import local_services
from worker.llm.providers import environment_provider

SERVICES = {"DATABASE_URL": "postgresql://u@db/app", "REDIS_URL": "redis://127.0.0.1:1/0"}


@pytest.fixture(autouse=True)
def _services_given(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in SERVICES.items():
        monkeypatch.setenv(name, value)
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "AGENTWORKER_LOCAL_LLM"):
        monkeypatch.delenv(name, raising=False)


def _answers(base_url: str) -> bool:
    with urllib.request.urlopen(f"{base_url}/models", timeout=10) as response:
        return bool(response.status == 200)


def test_with_no_provider_the_stand_in_starts_and_workers_are_told_it_is_intended(
    tmp_path: Path,
) -> None:
    with local_services(tmp_path, persistent=False) as services:
        env = services.worker_env()
        assert services.llm_base_url is not None and _answers(services.llm_base_url)
        assert env["OPENAI_BASE_URL"] == services.llm_base_url
        assert env["AGENTWORKER_LOCAL_LLM"] == "1"
        assert environment_provider(Settings.from_env(env)).base_url == services.llm_base_url
        assert any("local OpenAI-compatible LLM server" in line for line in services.started)


def test_the_flag_starts_the_stand_in_even_with_an_api_key_and_the_key_is_not_passed_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AGENTWORKER_LOCAL_LLM", "1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-a-real-key-not-for-the-demo-000")

    with local_services(tmp_path, persistent=False) as services:
        env = services.worker_env()
        assert services.llm_base_url is not None
        assert env["OPENAI_BASE_URL"] == services.llm_base_url
        assert "OPENAI_API_KEY" not in env


def test_a_given_endpoint_is_used_and_nothing_is_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:11434/v1")

    with local_services(tmp_path, persistent=False) as services:
        env = services.worker_env()
        assert services.llm_base_url is None and services.started == []
        assert env["OPENAI_BASE_URL"] == "http://127.0.0.1:11434/v1"
        assert "AGENTWORKER_LOCAL_LLM" not in env
