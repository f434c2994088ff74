"""The local LLM server's chat completions, driven by the real ``openai`` client over HTTP:
tool calls and the directives that steer them, structured output, and deterministic replies."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import openai
import pytest
from openai.types.chat import (
    ChatCompletion,
    ChatCompletionFunctionToolParam,
    ChatCompletionMessageFunctionToolCall,
)
from pydantic import BaseModel

from tests.support.local_llm import USER_TEXT, ask, openai_client
from worker.dev.llm_server import LocalLLMServer

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
    with openai_client(server) as client:
        yield client


def _function_calls(response: ChatCompletion) -> list[ChatCompletionMessageFunctionToolCall]:
    calls = response.choices[0].message.tool_calls or []
    assert all(isinstance(c, ChatCompletionMessageFunctionToolCall) for c in calls)
    return [c for c in calls if isinstance(c, ChatCompletionMessageFunctionToolCall)]


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
    response = ask(client, f"[[tools: clock]] {USER_TEXT}", tools=[SEARCH_TOOL, CLOCK_TOOL])

    calls = _function_calls(response)
    assert [c.function.name for c in calls] == ["clock"]


def test_no_tools_directive_answers_directly_without_the_directive(client: openai.OpenAI) -> None:
    response = ask(client, f"{USER_TEXT} [[no-tools]]", tools=[SEARCH_TOOL])

    assert response.choices[0].message.tool_calls is None
    assert response.choices[0].message.content == f"Answer to: {USER_TEXT}"


def test_tool_choice_none_answers_directly(client: openai.OpenAI) -> None:
    response = ask(client, tools=[SEARCH_TOOL], tool_choice="none")

    assert response.choices[0].finish_reason == "stop"
    assert response.choices[0].message.content == f"Answer to: {USER_TEXT}"


def test_tool_choice_naming_a_function_calls_only_that_function(client: openai.OpenAI) -> None:
    response = ask(
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
    response = ask(
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
    response = ask(client, tools=[tool])

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
    response = ask(client, response_format={"type": "json_object"})

    assert json.loads(response.choices[0].message.content or "") == {
        "answer": f"Answer to: {USER_TEXT}"
    }


def test_same_request_gives_identical_ids_arguments_and_content(client: openai.OpenAI) -> None:
    first = ask(client, tools=[SEARCH_TOOL, CLOCK_TOOL])
    second = ask(client, tools=[SEARCH_TOOL, CLOCK_TOOL])
    third, fourth = ask(client, "hello"), ask(client, "hello")

    assert first.id == second.id
    assert first.choices[0].message.tool_calls == second.choices[0].message.tool_calls
    assert third.id == fourth.id
    assert third.choices[0].message.content == fourth.choices[0].message.content
