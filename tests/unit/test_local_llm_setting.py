"""AGENTWORKER_LOCAL_LLM=1: the local OpenAI-compatible stand-in is used on purpose, never by
default. Without any provider the message names every variable that would give one."""

from __future__ import annotations

import pytest

from worker.core.settings import Settings
from worker.llm.providers import NoProviderConfigured, environment_provider

LOCAL = "http://127.0.0.1:8765/v1"


def test_the_stand_in_is_not_intended_by_default() -> None:
    assert Settings.from_env({}).local_llm is False


@pytest.mark.parametrize(("value", "expected"), [("1", True), ("0", False), ("", False)])
def test_agentworker_local_llm_is_read(value: str, expected: bool) -> None:
    assert Settings.from_env({"AGENTWORKER_LOCAL_LLM": value}).local_llm is expected


def test_without_any_provider_the_message_names_each_variable_to_set() -> None:
    with pytest.raises(NoProviderConfigured) as raised:
        environment_provider(Settings())

    message = str(raised.value)
    assert message.startswith("no LLM provider is configured: set OPENAI_API_KEY")
    for variable in ("OPENAI_BASE_URL", "ai_models", "AGENTWORKER_LOCAL_LLM=1"):
        assert variable in message


def test_the_stand_in_is_reached_at_openai_base_url() -> None:
    provider = environment_provider(Settings(local_llm=True, openai_base_url=LOCAL))

    assert provider.base_url == LOCAL


@pytest.mark.parametrize("api_key", [None, "sk-a-real-key-that-would-reach-openai"])
def test_the_stand_in_without_its_address_is_refused_never_replaced_by_openai(
    api_key: str | None,
) -> None:
    with pytest.raises(NoProviderConfigured) as raised:
        environment_provider(Settings(local_llm=True, openai_api_key=api_key))

    message = str(raised.value)
    assert message.startswith("AGENTWORKER_LOCAL_LLM=1 but OPENAI_BASE_URL is not set")
    assert "python -m worker.dev.llm_server" in message
    assert "agentworker dev" in message


def test_an_endpoint_without_the_flag_is_just_an_openai_compatible_endpoint() -> None:
    provider = environment_provider(Settings(openai_base_url=LOCAL))

    assert provider.base_url == LOCAL
