"""The local OpenAI-compatible server, driven by the real ``openai`` client over HTTP."""

from __future__ import annotations

import json
import math
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.error import HTTPError

import openai
import pytest
from openai.types.chat import (
    ChatCompletion,
    ChatCompletionFunctionToolParam,
    ChatCompletionMessageFunctionToolCall,
)
from pydantic import BaseModel

from worker.dev.llm_server import LocalLLMServer

USER_TEXT = "Find venues in Lisbon for 600 people"
SEARCH_TOOL: ChatCompletionFunctionToolParam = {
    "type": "function",
    "function": {
        "name": "search",
        "description": "Search the knowledge base.",
        "parameters": {
            "type": "object",
            "properties": {"query": {"type": "string"}, "limit": {"type": "integer"}},
            "required": ["query"],
        },
    },
}
CLOCK_TOOL: ChatCompletionFunctionToolParam = {
    "type": "function",
    "function": {"name": "clock", "parameters": {"type": "object", "properties": {}}},
}


class Venue(BaseModel):
    city: str
    seats: int


class Plan(BaseModel):
    summary: str
    venue: Venue
    backup: Venue | None
    budget: float


@pytest.fixture(scope="module")
def server() -> Iterator[LocalLLMServer]:
    with LocalLLMServer() as server:
        yield server


@pytest.fixture(scope="module")
def client(server: LocalLLMServer) -> Iterator[openai.OpenAI]:
    with openai.OpenAI(base_url=server.base_url, api_key="test-key", max_retries=0) as client:
        yield client


def _client(server: LocalLLMServer, **options: Any) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key="test-key", max_retries=0, **options)


def _admin(server: LocalLLMServer, method: str, path: str, body: object = None) -> Any:
    url = server.base_url.removesuffix("/v1") + path
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def _ask(
    client: openai.OpenAI, text: str = USER_TEXT, model: str = "gpt-4o-mini", **kw: Any
) -> ChatCompletion:
    return client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": text}], **kw
    )


def _function_calls(response: ChatCompletion) -> list[ChatCompletionMessageFunctionToolCall]:
    calls = response.choices[0].message.tool_calls or []
    assert all(isinstance(c, ChatCompletionMessageFunctionToolCall) for c in calls)
    return [c for c in calls if isinstance(c, ChatCompletionMessageFunctionToolCall)]


def _cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def _norm(vector: list[float]) -> float:
    return math.sqrt(sum(x * x for x in vector))


def test_tool_round_trip_calls_every_offered_tool_then_answers_from_results(
    client: openai.OpenAI,
) -> None:
    messages: list[Any] = [{"role": "user", "content": USER_TEXT}]
    first = client.chat.completions.create(
        model="gpt-4o-mini", messages=messages, tools=[SEARCH_TOOL, CLOCK_TOOL]
    )

    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content is None
    calls = _function_calls(first)
    assert [c.function.name for c in calls] == ["search", "clock"]
    assert json.loads(calls[0].function.arguments) == {"query": USER_TEXT}
    assert json.loads(calls[1].function.arguments) == {}
    assert len({c.id for c in calls}) == 2

    messages.append(choice.message.model_dump(exclude_none=True))
    messages.append({"role": "tool", "tool_call_id": calls[0].id, "content": "Venue A, 650 seats"})
    messages.append({"role": "tool", "tool_call_id": calls[1].id, "content": "2024-05-01 10:00"})
    final = client.chat.completions.create(
        model="gpt-4o-mini", messages=messages, tools=[SEARCH_TOOL, CLOCK_TOOL]
    )

    answer = final.choices[0].message.content or ""
    assert final.choices[0].finish_reason == "stop"
    assert answer == f"Answer to: {USER_TEXT} | Based on: Venue A, 650 seats ; 2024-05-01 10:00"
    usage, first_usage = final.usage, first.usage
    assert usage is not None and first_usage is not None
    assert first_usage.prompt_tokens == len(USER_TEXT.split()) + 10 * 2  # words + per tool
    assert usage.prompt_tokens > first_usage.prompt_tokens
    assert usage.completion_tokens == len(answer.split())
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens


def test_tools_directive_calls_only_the_named_tools(client: openai.OpenAI) -> None:
    response = _ask(client, f"[[tools: clock]] {USER_TEXT}", tools=[SEARCH_TOOL, CLOCK_TOOL])

    calls = _function_calls(response)
    assert [c.function.name for c in calls] == ["clock"]


def test_no_tools_directive_answers_directly_without_the_directive(client: openai.OpenAI) -> None:
    response = _ask(client, f"{USER_TEXT} [[no-tools]]", tools=[SEARCH_TOOL])

    assert response.choices[0].message.tool_calls is None
    assert response.choices[0].message.content == f"Answer to: {USER_TEXT}"


def test_tool_choice_none_answers_directly(client: openai.OpenAI) -> None:
    response = _ask(client, tools=[SEARCH_TOOL], tool_choice="none")

    assert response.choices[0].finish_reason == "stop"
    assert response.choices[0].message.content == f"Answer to: {USER_TEXT}"


def test_tool_choice_naming_a_function_calls_only_that_function(client: openai.OpenAI) -> None:
    response = _ask(
        client,
        tools=[SEARCH_TOOL, CLOCK_TOOL],
        tool_choice={"type": "function", "function": {"name": "search"}},
    )

    calls = _function_calls(response)
    assert [c.function.name for c in calls] == ["search"]


def test_json_schema_response_format_returns_an_object_valid_against_the_schema(
    client: openai.OpenAI,
) -> None:
    schema = {
        "type": "object",
        "$defs": {
            "Venue": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "seats": {"type": "integer"}},
                "required": ["city", "seats"],
            }
        },
        "properties": {
            "answer": {"type": "string"},
            "confident": {"type": "boolean"},
            "score": {"type": "number"},
            "tags": {"type": "array", "items": {"type": "string"}},
            "tier": {"type": "string", "enum": ["gold", "silver"]},
            "venue": {"$ref": "#/$defs/Venue"},
            "optional_note": {"type": "string"},
        },
        "required": ["answer", "confident", "score", "tags", "tier", "venue"],
    }
    response = _ask(
        client,
        response_format={"type": "json_schema", "json_schema": {"name": "plan", "schema": schema}},
    )

    content = json.loads(response.choices[0].message.content or "")
    assert set(content) == {"answer", "confident", "score", "tags", "tier", "venue"}
    assert content["answer"] == f"Answer to: {USER_TEXT}"
    assert content["confident"] is False
    assert isinstance(content["score"], float)
    assert content["tags"] == []
    assert content["tier"] == "gold"
    assert isinstance(content["venue"]["city"], str)
    assert isinstance(content["venue"]["seats"], int)


def test_sdk_parse_fills_a_pydantic_model_with_refs_and_optional_fields(
    client: openai.OpenAI,
) -> None:
    response = client.chat.completions.parse(
        model="gpt-4o", messages=[{"role": "user", "content": USER_TEXT}], response_format=Plan
    )

    plan = response.choices[0].message.parsed
    assert plan is not None
    assert plan.summary == f"Answer to: {USER_TEXT}"
    assert plan.venue.city.startswith("city ")
    assert plan.backup is not None


def test_tool_arguments_from_a_pydantic_function_tool_validate(client: openai.OpenAI) -> None:
    tool = openai.pydantic_function_tool(Venue, name="book_venue")
    response = _ask(client, tools=[tool])

    venue = Venue.model_validate_json(_function_calls(response)[0].function.arguments)
    assert venue.city.startswith("city ")
    assert venue.seats == 3


def test_message_content_given_as_text_parts_is_read(client: openai.OpenAI) -> None:
    response = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": [{"type": "text", "text": "hello there"}]}],
    )

    assert response.choices[0].message.content == "Answer to: hello there"


def test_json_object_response_format_wraps_the_answer(client: openai.OpenAI) -> None:
    response = _ask(client, response_format={"type": "json_object"})

    assert json.loads(response.choices[0].message.content or "") == {
        "answer": f"Answer to: {USER_TEXT}"
    }


def test_same_request_gives_identical_ids_arguments_and_content(client: openai.OpenAI) -> None:
    first = _ask(client, tools=[SEARCH_TOOL, CLOCK_TOOL])
    second = _ask(client, tools=[SEARCH_TOOL, CLOCK_TOOL])
    third, fourth = _ask(client, "hello"), _ask(client, "hello")

    assert first.id == second.id
    assert first.choices[0].message.tool_calls == second.choices[0].message.tool_calls
    assert third.id == fourth.id
    assert third.choices[0].message.content == fourth.choices[0].message.content


def test_embeddings_in_sdk_default_base64_and_float_are_the_same_unit_vectors(
    server: LocalLLMServer, client: openai.OpenAI
) -> None:
    text = "the venue in Lisbon has 600 seats"
    default = client.embeddings.create(model="text-embedding-3-small", input=text)
    floats = client.embeddings.create(
        model="text-embedding-3-small", input=[text], encoding_format="float"
    )

    vector = default.data[0].embedding
    assert len(vector) == server.embedding_dim
    assert _norm(vector) == pytest.approx(1.0, abs=1e-5)
    assert floats.data[0].embedding == vector
    assert default.usage.prompt_tokens == len(text.split())


def test_embeddings_of_texts_sharing_words_are_closer(client: openai.OpenAI) -> None:
    texts = ["the venue in Lisbon has 600 seats", "Lisbon venue seats", "sponsor tiers and pricing"]
    venue, related, unrelated = (
        item.embedding
        for item in client.embeddings.create(model="text-embedding-3-small", input=texts).data
    )

    assert _cosine(venue, related) > 0.5
    assert _cosine(venue, related) > _cosine(venue, unrelated)


def test_embeddings_honour_requested_dimensions(client: openai.OpenAI) -> None:
    response = client.embeddings.create(
        model="text-embedding-3-small", input=["a b c", "Lisbon"], dimensions=8
    )

    assert [len(item.embedding) for item in response.data] == [8, 8]
    assert all(_norm(item.embedding) == pytest.approx(1.0, abs=1e-5) for item in response.data)


def test_embeddings_of_token_arrays_are_rejected(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="only text input"):
        client.embeddings.create(model="text-embedding-3-small", input=[[1, 2, 3]])


def test_fault_header_429_raises_rate_limit_error_with_retry_after(client: openai.OpenAI) -> None:
    with pytest.raises(openai.RateLimitError) as info:
        _ask(client, extra_headers={"X-Fault": "status=429; retry-after=2"})

    assert info.value.status_code == 429
    assert info.value.response.headers["retry-after"] == "2"
    assert info.value.type == "rate_limit_error"


def test_programmed_faults_apply_in_order_to_their_model_only(
    server: LocalLLMServer, client: openai.OpenAI
) -> None:
    _admin(server, "POST", "/_faults", {"model": "flaky", "faults": [{"status": 500}] * 2})

    assert _ask(client, model="steady").choices[0].message.content
    with pytest.raises(openai.InternalServerError):
        _ask(client, model="flaky")
    with pytest.raises(openai.InternalServerError):
        _ask(client, model="flaky")
    assert _ask(client, model="flaky").choices[0].message.content == f"Answer to: {USER_TEXT}"


def test_programmed_rate_limit_sends_its_retry_after(
    server: LocalLLMServer, client: openai.OpenAI
) -> None:
    _admin(
        server,
        "POST",
        "/_faults",
        {"model": "limited", "faults": [{"status": 429, "retry_after": 1}]},
    )

    with pytest.raises(openai.RateLimitError) as info:
        _ask(client, model="limited")

    assert info.value.response.headers["retry-after"] == "1"


def test_cleared_faults_no_longer_apply(server: LocalLLMServer, client: openai.OpenAI) -> None:
    _admin(server, "POST", "/_faults", {"model": "*", "faults": [{"status": 503}]})
    _admin(server, "DELETE", "/_faults")

    assert _ask(client, model="anything").choices[0].message.content


def test_delay_fault_longer_than_the_client_timeout_raises_timeout(
    server: LocalLLMServer,
) -> None:
    _admin(server, "POST", "/_faults", {"model": "slow", "faults": [{"delay_ms": 500}]})

    with _client(server, timeout=0.2) as client, pytest.raises(openai.APITimeoutError):
        _ask(client, model="slow")


def test_required_api_key_rejects_a_wrong_key_and_accepts_the_right_one() -> None:
    with LocalLLMServer(require_api_key="right-key") as server:
        with (
            openai.OpenAI(base_url=server.base_url, api_key="wrong", max_retries=0) as wrong,
            pytest.raises(openai.AuthenticationError),
        ):
            _ask(wrong)
        with openai.OpenAI(base_url=server.base_url, api_key="right-key", max_retries=0) as right:
            assert _ask(right).choices[0].message.content


def test_fault_every_fails_every_nth_request() -> None:
    with LocalLLMServer(fault_status=503, fault_every=3) as server, _client(server) as client:
        outcomes = []
        for _ in range(6):
            try:
                _ask(client)
                outcomes.append("ok")
            except openai.InternalServerError as error:
                outcomes.append(str(error.status_code))

    assert outcomes == ["ok", "ok", "503", "ok", "ok", "503"]


def test_stats_count_requests_faults_and_models(
    server: LocalLLMServer, client: openai.OpenAI
) -> None:
    _admin(server, "POST", "/_stats/reset")
    _ask(client, model="stats-chat")
    with pytest.raises(openai.InternalServerError):
        _ask(client, model="stats-chat", extra_headers={"x-fault": "status=500"})
    client.embeddings.create(model="stats-embed", input="hello")

    assert _admin(server, "GET", "/_stats") == {
        "chat_completions": 2,
        "embeddings": 1,
        "faults_injected": 1,
        "by_model": {"stats-chat": 2, "stats-embed": 1},
    }


def test_models_are_listed_and_any_model_can_be_retrieved(client: openai.OpenAI) -> None:
    assert "gpt-4o-mini" in [model.id for model in client.models.list()]
    assert client.models.retrieve("my-model").owned_by == "agentworker-local"


def test_streaming_is_rejected_with_a_message_saying_so(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="streaming is not supported"):
        _ask(client, stream=True)


def test_missing_messages_is_a_bad_request(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as info:
        client.post("/chat/completions", body={"model": "gpt-4o-mini"}, cast_to=object)

    assert info.value.param == "messages"


def test_unknown_path_is_an_openai_style_404(server: LocalLLMServer) -> None:
    with pytest.raises(HTTPError) as info:
        _admin(server, "GET", "/v1/nothing-here")

    with info.value as error:
        assert error.code == 404
        assert json.loads(error.read())["error"]["type"] == "not_found_error"


def test_concurrent_requests_on_one_client_all_succeed(client: openai.OpenAI) -> None:
    def four_requests(worker: int) -> list[str]:
        return [_ask(client, f"worker {worker} request {i}").id for i in range(4)]

    with ThreadPoolExecutor(max_workers=50) as pool:
        ids = [i for batch in pool.map(four_requests, range(50)) for i in batch]

    assert len(set(ids)) == 200


def test_requests_are_served_concurrently() -> None:
    with LocalLLMServer(latency_ms=200) as server, _client(server) as client:
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=50) as pool:
            answers = list(pool.map(lambda i: _ask(client, f"question {i}"), range(50)))
        elapsed = time.perf_counter() - started

    assert len(answers) == 50
    assert elapsed < 3.0
