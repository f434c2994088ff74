"""The tool registry's arguments: how the model's JSON arguments are validated and coerced,
how invalid ones are reported, and how a tool is invoked with them."""

from __future__ import annotations

import pytest

from tests.support.sample_tools import Filter, make_context, sample_registry
from worker.agents.tools import (
    ToolArgumentsInvalid,
    ToolContext,
    ToolError,
    ToolRegistry,
    UnknownTool,
)


@pytest.fixture
def registry() -> ToolRegistry:
    return sample_registry()


# --- validation -------------------------------------------------------------------------------


def test_valid_arguments_are_coerced_to_python_values(registry: ToolRegistry) -> None:
    arguments = registry.validate_arguments(
        "search_knowledge", '{"query": "cats", "limit": "3", "filters": [{"kind": "faq"}]}'
    )

    assert arguments == {"query": "cats", "limit": 3, "filters": [Filter(kind="faq")]}


def test_omitted_optional_arguments_take_their_defaults(registry: ToolRegistry) -> None:
    arguments = registry.validate_arguments("search_knowledge", {"query": "cats"})

    assert arguments == {"query": "cats", "limit": 5, "filters": None}


def test_a_missing_field_is_named(registry: ToolRegistry) -> None:
    with pytest.raises(ToolArgumentsInvalid) as caught:
        registry.validate_arguments("send_email", '{"to": "a@example.com"}')

    assert "invalid arguments for tool 'send_email'" in str(caught.value)
    assert "'body' is required but missing" in str(caught.value)
    assert caught.value.fields == ("body",)


def test_a_wrong_type_names_the_field_and_the_value(registry: ToolRegistry) -> None:
    with pytest.raises(ToolArgumentsInvalid) as caught:
        registry.validate_arguments("search_knowledge", '{"query": "cats", "limit": "ten"}')

    message = str(caught.value)
    assert "'limit': Input should be a valid integer" in message
    assert '(got "ten")' in message


def test_a_nested_field_is_named_by_its_path(registry: ToolRegistry) -> None:
    with pytest.raises(ToolArgumentsInvalid) as caught:
        registry.validate_arguments(
            "search_knowledge", '{"query": "cats", "filters": [{"kind": "blog"}]}'
        )

    assert "'filters[0].kind': Input should be 'document' or 'faq'" in str(caught.value)


def test_invalid_json_is_reported_as_such(registry: ToolRegistry) -> None:
    with pytest.raises(ToolArgumentsInvalid, match="'send_email' are not valid JSON"):
        registry.validate_arguments("send_email", '{"to": "a@example.com", body}')


def test_arguments_that_are_not_an_object_are_refused(registry: ToolRegistry) -> None:
    with pytest.raises(ToolArgumentsInvalid, match="must be a JSON object, not an array"):
        registry.validate_arguments("send_email", '["a@example.com"]')


def test_unknown_arguments_are_rejected(registry: ToolRegistry) -> None:
    with pytest.raises(ToolArgumentsInvalid, match="'cc' is not a parameter of this tool"):
        registry.validate_arguments("send_email", {"to": "a", "body": "b", "cc": "c"})


def test_the_error_message_lists_the_expected_parameters(registry: ToolRegistry) -> None:
    with pytest.raises(ToolArgumentsInvalid) as caught:
        registry.validate_arguments("search_knowledge", "{}")

    assert str(caught.value).endswith(
        "Expected parameters: query (required), limit (optional), filters (optional)"
    )


def test_an_empty_argument_string_means_no_arguments() -> None:
    registry = ToolRegistry()

    @registry.tool
    def ping(context: ToolContext) -> str:
        """Answer pong."""
        return "pong"

    assert registry.validate_arguments("ping", "") == {}


def test_validating_arguments_for_an_unknown_tool_is_an_unknown_tool(
    registry: ToolRegistry,
) -> None:
    with pytest.raises(UnknownTool):
        registry.validate_arguments("browse", "{}")


# --- invocation -------------------------------------------------------------------------------


def test_invoke_passes_the_context_and_the_coerced_arguments(registry: ToolRegistry) -> None:
    context = make_context()

    result = registry.invoke("search_knowledge", context, {"query": "cats", "limit": "2"})

    assert result == {"context": context, "query": "cats", "limit": 2, "filters": None}


def test_invoke_validates_before_the_function_runs() -> None:
    registry = ToolRegistry()
    calls: list[int] = []

    @registry.tool
    def record(context: ToolContext, value: int) -> None:
        """Record a value."""
        calls.append(value)

    with pytest.raises(ToolArgumentsInvalid):
        registry.invoke("record", make_context(), {"value": "not a number"})
    assert calls == []


def test_invoke_lets_the_tools_own_errors_through() -> None:
    registry = ToolRegistry()

    @registry.tool
    def fail(context: ToolContext) -> None:
        """Always fail."""
        raise ToolError("no document with id 7")

    with pytest.raises(ToolError, match="no document with id 7"):
        registry.invoke("fail", make_context(), {})


def test_invoke_refuses_a_context_of_the_wrong_type(registry: ToolRegistry) -> None:
    with pytest.raises(TypeError, match="ToolContext"):
        registry.invoke("send_email", object(), {"to": "a", "body": "b"})  # type: ignore[arg-type]


def test_the_context_services_default_to_an_empty_mapping() -> None:
    assert dict(make_context().services) == {}
