"""The tool registry's registration: the ``@tool`` decorator, what it refuses, the spec it
records, and how lookups and tool errors report themselves."""

from __future__ import annotations

import pytest

from tests.support.sample_tools import sample_registry, send_email
from worker.agents.tools import (
    ToolContext,
    ToolDefinitionError,
    ToolError,
    ToolRegistry,
    ToolSpec,
    UnknownTool,
)
from worker.core.errors import AgentWorkerError


@pytest.fixture
def registry() -> ToolRegistry:
    return sample_registry()


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


# --- lookup -----------------------------------------------------------------------------------


def test_an_unknown_tool_lists_the_known_names(registry: ToolRegistry) -> None:
    with pytest.raises(UnknownTool) as caught:
        registry.get("serch")

    assert str(caught.value) == "unknown tool 'serch'; known tools: search_knowledge, send_email"


def test_tool_errors_share_the_root_exception_and_are_not_retryable() -> None:
    error = UnknownTool("x", [])

    assert isinstance(error, ToolError)
    assert isinstance(error, AgentWorkerError)
    assert error.retryable is False


def test_get_returns_the_spec_of_the_registered_function(registry: ToolRegistry) -> None:
    spec = registry.get("send_email")

    assert isinstance(spec, ToolSpec)
    assert spec.function is send_email
