"""The tool registry's JSON schemas: what a tool's parameters become, and the copies of them
handed to OpenAI in the chat-completions ``tools`` format."""

from __future__ import annotations

import json

import pytest

from tests.support.sample_tools import make_context, sample_registry
from worker.agents.tools import ToolContext, ToolRegistry, UnknownTool


@pytest.fixture
def registry() -> ToolRegistry:
    return sample_registry()


# --- schema -----------------------------------------------------------------------------------


def test_the_schema_is_a_json_schema_object(registry: ToolRegistry) -> None:
    schema = registry.get("search_knowledge").parameters_schema

    assert schema["type"] == "object"
    assert set(schema["properties"]) == {"query", "limit", "filters"}


def test_the_tool_context_is_not_in_the_schema(registry: ToolRegistry) -> None:
    assert "context" not in registry.get("search_knowledge").parameters_schema["properties"]


def test_parameters_without_defaults_are_required(registry: ToolRegistry) -> None:
    assert registry.get("search_knowledge").parameters_schema["required"] == ["query"]


def test_defaults_appear_in_the_schema(registry: ToolRegistry) -> None:
    limit = registry.get("search_knowledge").parameters_schema["properties"]["limit"]

    assert limit == {"type": "integer", "default": 5}


def test_field_descriptions_are_kept(registry: ToolRegistry) -> None:
    query = registry.get("search_knowledge").parameters_schema["properties"]["query"]

    assert query == {"type": "string", "description": "What to look for"}


def test_unknown_arguments_are_forbidden_by_the_schema(registry: ToolRegistry) -> None:
    assert registry.get("send_email").parameters_schema["additionalProperties"] is False


def test_the_schema_has_no_generated_titles(registry: ToolRegistry) -> None:
    assert '"title"' not in json.dumps(registry.get("search_knowledge").parameters_schema)


def test_a_parameter_named_title_is_kept_in_the_schema() -> None:
    registry = ToolRegistry()

    @registry.tool
    def rename(context: ToolContext, title: str) -> str:
        """Rename the document."""
        return title

    assert registry.get("rename").parameters_schema["properties"] == {"title": {"type": "string"}}


def test_parameter_names_that_shadow_pydantic_attributes_work() -> None:
    registry = ToolRegistry()

    @registry.tool
    def convert(context: ToolContext, json: str, model_name: str = "m") -> str:
        """Convert."""
        return json + model_name

    assert registry.invoke("convert", make_context(), {"json": "a", "model_name": "b"}) == "ab"


def test_a_tool_without_parameters_has_an_empty_object_schema() -> None:
    registry = ToolRegistry()

    @registry.tool
    def ping(context: ToolContext) -> str:
        """Answer pong."""
        return "pong"

    assert registry.get("ping").parameters_schema == {
        "type": "object",
        "properties": {},
        "additionalProperties": False,
    }


# --- the OpenAI format ------------------------------------------------------------------------


def test_openai_tools_are_in_the_chat_completions_format(registry: ToolRegistry) -> None:
    tools = registry.openai_tools(["send_email"])

    assert tools == [
        {
            "type": "function",
            "function": {
                "name": "send_email",
                "description": "Send an email.",
                "parameters": {
                    "type": "object",
                    "properties": {"to": {"type": "string"}, "body": {"type": "string"}},
                    "required": ["to", "body"],
                    "additionalProperties": False,
                },
            },
        }
    ]


def test_openai_tools_keep_the_requested_order_and_drop_repeats(registry: ToolRegistry) -> None:
    tools = registry.openai_tools(["send_email", "search_knowledge", "send_email"])

    assert [tool["function"]["name"] for tool in tools] == ["send_email", "search_knowledge"]


def test_openai_tools_refuse_an_unknown_name(registry: ToolRegistry) -> None:
    with pytest.raises(UnknownTool, match="known tools: search_knowledge, send_email"):
        registry.openai_tools(["send_email", "browse"])


def test_openai_tools_are_copies_of_the_schema(registry: ToolRegistry) -> None:
    registry.openai_tools(["send_email"])[0]["function"]["parameters"]["properties"].clear()

    assert registry.get("send_email").parameters_schema["properties"]
