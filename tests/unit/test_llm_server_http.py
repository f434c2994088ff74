"""The local LLM server as an HTTP service, driven by the real ``openai`` client: API-key
checks, the model list, OpenAI-style errors for what it does not serve, and concurrency."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from urllib.error import HTTPError

import openai
import pytest

from tests.support.local_llm import admin, ask, openai_client
from worker.dev.llm_server import LocalLLMServer


@pytest.fixture(scope="module")
def server() -> Iterator[LocalLLMServer]:
    with LocalLLMServer() as server:
        yield server


@pytest.fixture(scope="module")
def client(server: LocalLLMServer) -> Iterator[openai.OpenAI]:
    with openai_client(server) as client:
        yield client


def test_required_api_key_rejects_a_wrong_key_and_accepts_the_right_one() -> None:
    with LocalLLMServer(require_api_key="right-key") as server:
        with (
            openai.OpenAI(base_url=server.base_url, api_key="wrong", max_retries=0) as wrong,
            pytest.raises(openai.AuthenticationError),
        ):
            ask(wrong)
        with openai.OpenAI(base_url=server.base_url, api_key="right-key", max_retries=0) as right:
            assert ask(right).choices[0].message.content


def test_models_are_listed_and_any_model_can_be_retrieved(client: openai.OpenAI) -> None:
    assert "gpt-4o-mini" in [model.id for model in client.models.list()]
    assert client.models.retrieve("my-model").owned_by == "agentworker-local"


def test_streaming_is_rejected_with_a_message_saying_so(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="streaming is not supported"):
        ask(client, stream=True)


def test_missing_messages_is_a_bad_request(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.post("/chat/completions", body={"model": "gpt-4o-mini"}, cast_to=object)

    assert info.value.param == "messages"


def test_unknown_path_is_an_openai_style_404(server: LocalLLMServer) -> None:
    with pytest.raises(HTTPError) as info:
        admin(server, "GET", "/v1/nothing-here")

    with info.value as error:
        assert error.code == 404
        assert json.loads(error.read())["error"]["type"] == "not_found_error"


def test_concurrent_requests_on_one_client_all_succeed(client: openai.OpenAI) -> None:
    def four_requests(worker: int) -> list[str]:
        return [ask(client, f"worker {worker} request {i}").id for i in range(4)]

    with ThreadPoolExecutor(max_workers=50) as pool:
        ids = [i for batch in pool.map(four_requests, range(50)) for i in batch]

    assert len(set(ids)) == 200


def test_requests_are_served_concurrently() -> None:
    with LocalLLMServer(latency_ms=200) as server, openai_client(server) as client:
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=50) as pool:
            answers = list(pool.map(lambda i: ask(client, f"question {i}"), range(50)))
        elapsed = time.perf_counter() - started

    assert len(answers) == 50
    assert elapsed < 3.0
