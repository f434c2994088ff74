"""The local LLM server's fault injection, driven by the real ``openai`` client over HTTP:
the ``X-Fault`` header, faults programmed per model through ``/_faults``, the server's own
every-nth fault, and the request counts of ``/_stats``."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest

from tests.support.local_llm import USER_TEXT, admin, ask, openai_client
from worker.dev.llm_server import LocalLLMServer


@pytest.fixture(scope="module")
def server() -> Iterator[LocalLLMServer]:
    with LocalLLMServer() as server:
        yield server


@pytest.fixture(scope="module")
def client(server: LocalLLMServer) -> Iterator[openai.OpenAI]:
    with openai_client(server) as client:
        yield client


def test_fault_header_429_raises_rate_limit_error_with_retry_after(client: openai.OpenAI) -> None:
    with pytest.raises(openai.RateLimitError) as info:
        ask(client, extra_headers={"X-Fault": "status=429; retry-after=2"})

    assert info.value.status_code == 429
    assert info.value.response.headers["retry-after"] == "2"
    assert info.value.type == "rate_limit_error"


def test_programmed_faults_apply_in_order_to_their_model_only(
    server: LocalLLMServer, client: openai.OpenAI
) -> None:
    admin(server, "POST", "/_faults", {"model": "flaky", "faults": [{"status": 500}] * 2})

    assert ask(client, model="steady").choices[0].message.content
    with pytest.raises(openai.InternalServerError):
        ask(client, model="flaky")
    with pytest.raises(openai.InternalServerError):
        ask(client, model="flaky")
    assert ask(client, model="flaky").choices[0].message.content == f"Answer to: {USER_TEXT}"


def test_programmed_rate_limit_sends_its_retry_after(
    server: LocalLLMServer, client: openai.OpenAI
) -> None:
    admin(
        server,
        "POST",
        "/_faults",
        {"model": "limited", "faults": [{"status": 429, "retry_after": 1}]},
    )

    with pytest.raises(openai.RateLimitError) as info:
        ask(client, model="limited")

    assert info.value.response.headers["retry-after"] == "1"


def test_cleared_faults_no_longer_apply(server: LocalLLMServer, client: openai.OpenAI) -> None:
    admin(server, "POST", "/_faults", {"model": "*", "faults": [{"status": 503}]})
    admin(server, "DELETE", "/_faults")

    assert ask(client, model="anything").choices[0].message.content


def test_delay_fault_longer_than_the_client_timeout_raises_timeout(
    server: LocalLLMServer,
) -> None:
    admin(server, "POST", "/_faults", {"model": "slow", "faults": [{"delay_ms": 500}]})

    with openai_client(server, timeout=0.2) as client, pytest.raises(openai.APITimeoutError):
        ask(client, model="slow")


def test_fault_every_fails_every_nth_request() -> None:
    with LocalLLMServer(fault_status=503, fault_every=3) as server, openai_client(server) as client:
        outcomes = []
        for _ in range(6):
            try:
                ask(client)
                outcomes.append("ok")
            except openai.InternalServerError as error:
                outcomes.append(str(error.status_code))

    assert outcomes == ["ok", "ok", "503", "ok", "ok", "503"]


def test_stats_count_requests_faults_and_models(
    server: LocalLLMServer, client: openai.OpenAI
) -> None:
    admin(server, "POST", "/_stats/reset")
    ask(client, model="stats-chat")
    with pytest.raises(openai.InternalServerError):
        ask(client, model="stats-chat", extra_headers={"x-fault": "status=500"})
    client.embeddings.create(model="stats-embed", input="hello")

    assert admin(server, "GET", "/_stats") == {
        "chat_completions": 2,
        "embeddings": 1,
        "faults_injected": 1,
        "by_model": {"stats-chat": 2, "stats-embed": 1},
    }
