from __future__ import annotations

import json
import uuid
from typing import Annotated, Any, Literal

import pytest
from pydantic import BaseModel, Field

from worker.agents.tools import (
    ToolArgumentsInvalid,
    ToolContext,
    ToolDefinitionError,
    ToolError,
    ToolRegistry,
    ToolSpec,
    UnknownTool,
)
from worker.core.errors import AgentWorkerError


class Filter(BaseModel):
    kind: Literal["document", "faq"]


def search_knowledge(
    context: ToolContext,
    query: Annotated[str, Field(description="What to look for")],
    limit: int = 5,
    filters: list[Filter] | None = None,
) -> dict[str, Any]:
    """Search the tenant's knowledge base.

    Returns the best matching chunks.
    """
    return {"context": context, "query": query, "limit": limit, "filters": filters}


def send_email(context: ToolContext, to: str, body: str) -> str:
    """Send an email."""
    return f"sent to {to}"


def make_context() -> ToolContext:
    return ToolContext(
        tenant_id=uuid.uuid4(),
        task_id=uuid.uuid4(),
        agent_run_id=None,
        agent_name="researcher",
        session_factory=lambda: None,
    )


@pytest.fixture
def registry() -> ToolRegistry:
    registry = ToolRegistry()
    registry.tool(action_type="knowledge_search")(search_knowledge)
    registry.tool(needs_approval=True, side_effects=True)(send_email)
    return registry


# --- registration -----------------------------------------------------------------------------


def test_the_decorator_without_parentheses_registers_under_the_function_name() -> None:
    registry = ToolRegistry()

    @registry.tool
    def ping(context: ToolContext) -> str:
        """Answer pong."""
        return "pong"

    assert registry.names() == ("ping",)


def test_the_decorator_with_parentheses_takes_a_name_and_a_description() -> None:
    registry = ToolRegistry()

    @registry.tool("echo_text", description="Repeat the text.")
    def echo(context: ToolContext, text: str) -> str:
        return text

    spec = registry.get("echo_text")
    assert (spec.name, spec.description) == ("echo_text", "Repeat the text.")


def test_the_decorator_returns_the_function_unchanged() -> None:
    registry = ToolRegistry()

    assert registry.tool(send_email) is send_email


def test_the_description_defaults_to_the_first_paragraph_of_the_docstring(
    registry: ToolRegistry,
) -> None:
    assert registry.get("search_knowledge").description == "Search the tenant's knowledge base."


def test_a_tool_without_docstring_or_description_is_refused() -> None:
    registry = ToolRegistry()

    def undocumented(context: ToolContext) -> None:
        pass

    with pytest.raises(ToolDefinitionError, match=r"docstring or pass @tool\(description"):
        registry.tool(undocumented)


def test_a_duplicate_name_is_refused(registry: ToolRegistry) -> None:
    with pytest.raises(ToolDefinitionError, match="'send_email' is already registered"):
        registry.tool(send_email)


def test_the_first_parameter_must_be_a_tool_context() -> None:
    registry = ToolRegistry()

    def no_context(query: str) -> None:
        """Search."""

    with pytest.raises(ToolDefinitionError, match=r"first parameter .* must be annotated"):
        registry.tool(no_context)


def test_a_parameter_without_a_type_hint_is_refused() -> None:
    registry = ToolRegistry()

    def untyped(context: ToolContext, query) -> None:  # type: ignore[no-untyped-def]
        """Search."""

    with pytest.raises(ToolDefinitionError, match="'query' has no type hint"):
        registry.tool(untyped)


def test_an_async_function_is_refused() -> None:
    registry = ToolRegistry()

    async def fetch(context: ToolContext) -> None:
        """Fetch."""

    with pytest.raises(ToolDefinitionError, match="is async"):
        registry.tool(fetch)


def test_a_name_openai_would_reject_is_refused() -> None:
    registry = ToolRegistry()

    with pytest.raises(ToolDefinitionError, match="not allowed"):
        registry.tool("search the web")(send_email)


def test_needs_approval_side_effects_and_action_type_are_carried_on_the_spec(
    registry: ToolRegistry,
) -> None:
    email, search = registry.get("send_email"), registry.get("search_knowledge")

    assert (email.needs_approval, email.side_effects, email.action_type) == (True, True, None)
    assert (search.needs_approval, search.side_effects) == (False, False)
    assert search.action_type == "knowledge_search"
    assert search.provider == "agentworker"


def test_the_spec_is_frozen(registry: ToolRegistry) -> None:
    spec = registry.get("send_email")

    with pytest.raises(AttributeError):
        spec.needs_approval = False  # type: ignore[misc]


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


# --- lookup and the OpenAI format -------------------------------------------------------------


def test_an_unknown_tool_lists_the_known_names(registry: ToolRegistry) -> None:
    with pytest.raises(UnknownTool) as caught:
        registry.get("serch")

    assert str(caught.value) == "unknown tool 'serch'; known tools: search_knowledge, send_email"


def test_tool_errors_share_the_root_exception_and_are_not_retryable() -> None:
    error = UnknownTool("x", [])

    assert isinstance(error, ToolError)
    assert isinstance(error, AgentWorkerError)
    assert error.retryable is False


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


def test_get_returns_the_spec_of_the_registered_function(registry: ToolRegistry) -> None:
    spec = registry.get("send_email")

    assert isinstance(spec, ToolSpec)
    assert spec.function is send_email
