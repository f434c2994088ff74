"""The tool registry: plain Python functions the agent loop may call on a model's behalf.

A tool is a synchronous function whose first parameter is a ``ToolContext``; its other
parameters, with their type hints, become the JSON Schema the model sees, and the model's
arguments are validated against that schema (unknown arguments rejected) before the function
runs. Only registered tools can run.

    registry = ToolRegistry()

    @registry.tool(action_type="knowledge_search")
    def search_knowledge(
        context: ToolContext,
        query: Annotated[str, Field(description="What to look for")],
        limit: int = 5,
    ) -> list[dict[str, Any]]:
        \"\"\"Search the tenant's knowledge base.\"\"\"

The arguments' model and schema are built in ``worker.agents.tools.arguments``; the context
and spec types live in ``worker.agents.tools.specs``, the errors in
``worker.agents.tools.errors``. This module is pure: no database, no Celery, no openai
import.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar, overload

from worker.agents.tools.arguments import (
    arguments_model,
    parameters_schema,
    qualified_name,
    validated_arguments,
)
from worker.agents.tools.errors import (
    ToolArgumentsInvalid,
    ToolDefinitionError,
    ToolError,
    UnknownTool,
)
from worker.agents.tools.specs import ToolContext, ToolSpec

#: ToolRegistry is defined here; the other names are re-exported from the modules that define
#: them, so tool modules written against this one keep importing from it.
__all__ = [
    "ToolArgumentsInvalid",
    "ToolContext",
    "ToolDefinitionError",
    "ToolError",
    "ToolRegistry",
    "ToolSpec",
    "UnknownTool",
]

ToolFunction = TypeVar("ToolFunction", bound=Callable[..., Any])

#: What OpenAI accepts as a function name.
_TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class ToolRegistry:
    def __init__(self) -> None:
        self._specs: dict[str, ToolSpec] = {}

    @overload
    def tool(self, name: ToolFunction, /) -> ToolFunction: ...

    @overload
    def tool(
        self,
        name: str | None = None,
        *,
        description: str | None = None,
        needs_approval: bool = False,
        side_effects: bool = False,
        transactional: bool = False,
        idempotent: bool = False,
        action_type: str | None = None,
        provider: str = "agentworker",
    ) -> Callable[[ToolFunction], ToolFunction]: ...

    def tool(
        self,
        name: str | Callable[..., Any] | None = None,
        *,
        description: str | None = None,
        needs_approval: bool = False,
        side_effects: bool = False,
        transactional: bool = False,
        idempotent: bool = False,
        action_type: str | None = None,
        provider: str = "agentworker",
    ) -> Any:
        """Register a function as a tool: ``@registry.tool`` or ``@registry.tool(...)``.

        The function is returned unchanged, so it can still be called directly.
        """
        if callable(name):
            self.register(name)
            return name

        def decorator(function: ToolFunction) -> ToolFunction:
            self.register(
                function,
                name=name,
                description=description,
                needs_approval=needs_approval,
                side_effects=side_effects,
                transactional=transactional,
                idempotent=idempotent,
                action_type=action_type,
                provider=provider,
            )
            return function

        return decorator

    def register(
        self,
        function: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        needs_approval: bool = False,
        side_effects: bool = False,
        transactional: bool = False,
        idempotent: bool = False,
        action_type: str | None = None,
        provider: str = "agentworker",
    ) -> ToolSpec:
        """Register ``function`` as a tool and return its spec (the decorator's plain form).

        ``side_effects``: it changes something, so it runs at most once per call; with
        ``transactional`` those changes are rows written through ``context.session_factory()``
        (they commit with its result); with ``idempotent`` its service deduplicates by
        ``context.idempotency_key``, so a call whose outcome is unknown may be made again.
        Either implies ``side_effects``.
        """
        tool_name = name or function.__name__
        _check_tool_name(tool_name)
        if tool_name in self._specs:
            raise ToolDefinitionError(
                f"a tool named {tool_name!r} is already registered "
                f"(by {qualified_name(self._specs[tool_name].function)}); "
                f"give one of them another name with @tool(name=...)"
            )
        model = arguments_model(tool_name, function)
        spec = ToolSpec(
            name=tool_name,
            description=_description(tool_name, function, description),
            parameters_schema=parameters_schema(tool_name, model),
            function=function,
            arguments_model=model,
            needs_approval=needs_approval,
            side_effects=side_effects or transactional or idempotent,
            transactional=transactional,
            idempotent=idempotent,
            action_type=action_type,
            provider=provider,
        )
        self._specs[tool_name] = spec
        return spec

    def get(self, name: str) -> ToolSpec:
        try:
            return self._specs[name]
        except KeyError:
            raise UnknownTool(name, self._specs) from None

    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self._specs))

    def __contains__(self, name: object) -> bool:
        return name in self._specs

    def __len__(self) -> int:
        return len(self._specs)

    def openai_tools(self, names: Iterable[str]) -> list[dict[str, Any]]:
        """The named tools in the OpenAI ``tools`` format, in the given order, each once."""
        return [self.get(name).openai_tool() for name in dict.fromkeys(names)]

    def validate_arguments(self, name: str, raw: str | Mapping[str, Any]) -> dict[str, Any]:
        """The model's arguments (a JSON text or a mapping) validated and coerced to kwargs.

        Raises ``ToolArgumentsInvalid`` with a message fit to send back to the model.
        """
        return validated_arguments(self.get(name), raw)

    def invoke(self, name: str, context: ToolContext, arguments: Mapping[str, Any]) -> Any:
        """Validate ``arguments`` and call the tool with ``context`` and them; return its result.

        Exceptions raised by the tool itself propagate unchanged.
        """
        if not isinstance(context, ToolContext):
            raise TypeError(f"tools take a ToolContext first, not {type(context).__name__}")
        spec = self.get(name)
        kwargs = self.validate_arguments(name, arguments)
        return spec.function(context, **kwargs)


# --- naming and describing a tool -------------------------------------------------------------


def _check_tool_name(name: str) -> None:
    if not _TOOL_NAME.match(name):
        raise ToolDefinitionError(
            f"tool name {name!r} is not allowed: use 1 to 64 letters, digits, '_' or '-'"
        )


def _description(name: str, function: Callable[..., Any], given: str | None) -> str:
    text = given if given is not None else _first_paragraph(inspect.getdoc(function) or "")
    text = " ".join(text.split())
    if not text:
        raise ToolDefinitionError(
            f"tool {name!r} has no description: give {qualified_name(function)} a docstring "
            f"or pass @tool(description=...); the model reads it to decide when to call the tool"
        )
    return text


def _first_paragraph(docstring: str) -> str:
    return docstring.strip().split("\n\n", 1)[0]
