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

This module is pure: no database, no Celery, no openai import.
"""

from __future__ import annotations

import copy
import inspect
import json
import re
import typing
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeVar, overload

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from worker.core.errors import AgentWorkerError

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
_MAX_SHOWN_INPUT = 80


# --- errors -----------------------------------------------------------------------------------


class ToolError(AgentWorkerError):
    """A tool could not run or failed; its message is fit to send back to the model."""

    code = "tool_error"
    retryable = False


class UnknownTool(ToolError):
    code = "unknown_tool"

    def __init__(self, tool_name: str, known: Iterable[str]) -> None:
        self.tool_name = tool_name
        self.known = tuple(sorted(known))
        listing = f"known tools: {', '.join(self.known)}" if self.known else "no tools are known"
        super().__init__(f"unknown tool {tool_name!r}; {listing}")


class ToolArgumentsInvalid(ToolError):
    code = "tool_arguments_invalid"

    def __init__(self, message: str, *, tool_name: str, fields: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.tool_name = tool_name
        self.fields = tuple(fields)


class ToolDefinitionError(ToolError):
    """A function cannot be registered as a tool (raised at import time, not at run time)."""

    code = "tool_definition"


# --- what a tool receives and what the registry knows about it --------------------------------


@dataclass(frozen=True)
class ToolContext:
    """The first argument of every tool: who is calling, and the dependencies it may use."""

    tenant_id: uuid.UUID
    task_id: uuid.UUID
    agent_run_id: uuid.UUID | None
    agent_name: str
    #: A SQLAlchemy ``sessionmaker``: ``with context.session_factory() as session: ...``
    session_factory: Callable[[], Any]
    #: Extra dependencies by name, e.g. ``{"embedder": ...}``.
    services: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    #: The model's id for this call: stable across redeliveries, so a tool with side effects
    #: can use it as an idempotency key.
    tool_call_id: str | None = None


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    #: JSON Schema of the arguments: ``{"type": "object", "properties": ..., ...}``.
    parameters_schema: dict[str, Any]
    function: Callable[..., Any]
    #: Validates the model's arguments; fields are aliased to the parameter names.
    arguments_model: type[BaseModel]
    needs_approval: bool = False
    side_effects: bool = False
    #: One of seed 003's action types (e.g. ``"knowledge_search"``), for the action log.
    action_type: str | None = None
    provider: str = "agentworker"

    def openai_tool(self) -> dict[str, Any]:
        """This tool in the OpenAI chat-completions ``tools`` format."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": copy.deepcopy(self.parameters_schema),
            },
        }

    def parameter_names(self) -> tuple[str, ...]:
        return tuple(f.alias or n for n, f in self.arguments_model.model_fields.items())


# --- the registry -----------------------------------------------------------------------------


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
        action_type: str | None = None,
        provider: str = "agentworker",
    ) -> ToolSpec:
        """Register ``function`` as a tool and return its spec (the decorator's plain form)."""
        tool_name = name or function.__name__
        _check_tool_name(tool_name)
        if tool_name in self._specs:
            raise ToolDefinitionError(
                f"a tool named {tool_name!r} is already registered "
                f"(by {_qualified_name(self._specs[tool_name].function)}); "
                f"give one of them another name with @tool(name=...)"
            )
        arguments_model = _arguments_model(tool_name, function)
        spec = ToolSpec(
            name=tool_name,
            description=_description(tool_name, function, description),
            parameters_schema=_parameters_schema(tool_name, arguments_model),
            function=function,
            arguments_model=arguments_model,
            needs_approval=needs_approval,
            side_effects=side_effects,
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
        spec = self.get(name)
        arguments = _parse_arguments(name, raw) if isinstance(raw, str | bytes) else raw
        if not isinstance(arguments, Mapping):
            raise ToolArgumentsInvalid(
                f"arguments for tool {name!r} must be a JSON object, not "
                f"{_json_type(arguments)}. Expected {_expected_parameters(spec)}",
                tool_name=name,
            )
        try:
            validated = spec.arguments_model.model_validate(dict(arguments))
        except ValidationError as error:
            raise _arguments_invalid(spec, error) from error
        return {
            field_info.alias or field_name: getattr(validated, field_name)
            for field_name, field_info in type(validated).model_fields.items()
        }

    def invoke(self, name: str, context: ToolContext, arguments: Mapping[str, Any]) -> Any:
        """Validate ``arguments`` and call the tool with ``context`` and them; return its result.

        Exceptions raised by the tool itself propagate unchanged.
        """
        if not isinstance(context, ToolContext):
            raise TypeError(f"tools take a ToolContext first, not {type(context).__name__}")
        spec = self.get(name)
        kwargs = self.validate_arguments(name, arguments)
        return spec.function(context, **kwargs)


# --- building a spec from a function ----------------------------------------------------------


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
            f"tool {name!r} has no description: give {_qualified_name(function)} a docstring "
            f"or pass @tool(description=...); the model reads it to decide when to call the tool"
        )
    return text


def _first_paragraph(docstring: str) -> str:
    return docstring.strip().split("\n\n", 1)[0]


def _arguments_model(name: str, function: Callable[..., Any]) -> type[BaseModel]:
    if inspect.iscoroutinefunction(function) or inspect.isasyncgenfunction(function):
        raise ToolDefinitionError(
            f"tool {name!r}: {_qualified_name(function)} is async; tools run in a synchronous "
            f"Celery worker, so define it with 'def'"
        )
    parameters = list(inspect.signature(function).parameters.values())
    hints = _type_hints(name, function)
    _check_context_parameter(name, function, parameters, hints)
    fields = {
        f"argument_{index}": _field(name, parameter, hints)
        for index, parameter in enumerate(parameters[1:])
    }
    model_name = "".join(part.capitalize() for part in re.split(r"[_-]", name)) + "Arguments"
    try:
        return create_model(model_name, __config__=ConfigDict(extra="forbid"), **fields)
    except Exception as error:  # pydantic raises several kinds for types it cannot handle
        raise ToolDefinitionError(
            f"tool {name!r}: cannot build an argument schema from the parameters of "
            f"{_qualified_name(function)}: {error}"
        ) from error


def _type_hints(name: str, function: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(function, include_extras=True)
    except Exception as error:  # NameError for a type not importable from the function's module
        raise ToolDefinitionError(
            f"tool {name!r}: cannot resolve the type hints of {_qualified_name(function)} "
            f"({error}); import every type it uses at module level"
        ) from error


def _check_context_parameter(
    name: str,
    function: Callable[..., Any],
    parameters: list[inspect.Parameter],
    hints: Mapping[str, Any],
) -> None:
    first = parameters[0] if parameters else None
    hint = hints.get(first.name) if first is not None else None
    if first is None or not (isinstance(hint, type) and issubclass(hint, ToolContext)):
        raise ToolDefinitionError(
            f"tool {name!r}: the first parameter of {_qualified_name(function)} must be "
            f"annotated ToolContext, e.g. 'def {function.__name__}(context: ToolContext, ...)'"
        )


def _field(name: str, parameter: inspect.Parameter, hints: Mapping[str, Any]) -> Any:
    if parameter.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
        raise ToolDefinitionError(
            f"tool {name!r}: *{parameter.name} / **{parameter.name} cannot be described to a "
            f"model; declare each argument as its own parameter"
        )
    if parameter.kind is inspect.Parameter.POSITIONAL_ONLY:
        raise ToolDefinitionError(
            f"tool {name!r}: parameter {parameter.name!r} is positional-only; tools are called "
            f"with keyword arguments, so remove the '/'"
        )
    if parameter.name not in hints:
        raise ToolDefinitionError(
            f"tool {name!r}: parameter {parameter.name!r} has no type hint; annotate it so the "
            f"model knows what to send"
        )
    if isinstance(parameter.default, FieldInfo):
        raise ToolDefinitionError(
            f"tool {name!r}: parameter {parameter.name!r} uses '= Field(...)'; write "
            f"'Annotated[T, Field(...)] = default' instead"
        )
    default = ... if parameter.default is inspect.Parameter.empty else parameter.default
    # Aliased, so parameter names like "json" or "model_name" cannot clash with BaseModel.
    return (hints[parameter.name], Field(default, alias=parameter.name))


def _parameters_schema(name: str, arguments_model: type[BaseModel]) -> dict[str, Any]:
    try:
        schema = arguments_model.model_json_schema()
    except Exception as error:  # a type pydantic can validate but not describe
        raise ToolDefinitionError(
            f"tool {name!r}: cannot describe its parameters as JSON Schema: {error}"
        ) from error
    return _without_titles(schema)


#: Keywords whose values are data, not schemas: a "title" inside them is kept.
_DATA_KEYWORDS = frozenset({"default", "examples", "const", "enum"})


def _without_titles(schema: Any) -> Any:
    """The schema without pydantic's generated ``title``s (noise the model pays tokens for)."""
    if isinstance(schema, list):
        return [_without_titles(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    return {
        key: value if key in _DATA_KEYWORDS else _without_titles(value)
        for key, value in schema.items()
        if not (key == "title" and isinstance(value, str))
    }


# --- validating the model's arguments ---------------------------------------------------------


def _parse_arguments(name: str, raw: str | bytes) -> Any:
    if not raw.strip():
        return {}  # some models send "" for a tool without parameters
    try:
        return json.loads(raw)
    except json.JSONDecodeError as error:
        raise ToolArgumentsInvalid(
            f"arguments for tool {name!r} are not valid JSON ({error.msg} at line "
            f"{error.lineno} column {error.colno}); send one JSON object",
            tool_name=name,
        ) from error


def _arguments_invalid(spec: ToolSpec, error: ValidationError) -> ToolArgumentsInvalid:
    problems = [_problem(detail) for detail in error.errors()]
    fields = [_location(detail["loc"]) for detail in error.errors()]
    return ToolArgumentsInvalid(
        f"invalid arguments for tool {spec.name!r}: {'; '.join(problems)}. "
        f"Expected {_expected_parameters(spec)}",
        tool_name=spec.name,
        fields=fields,
    )


def _problem(detail: ErrorDetails) -> str:
    where = _location(detail["loc"]) or "arguments"
    if detail["type"] == "missing":
        return f"{where!r} is required but missing"
    if detail["type"] == "extra_forbidden":
        return f"{where!r} is not a parameter of this tool"
    return f"{where!r}: {detail['msg']} (got {_shown(detail['input'])})"


def _location(loc: tuple[int | str, ...]) -> str:
    """``("items", 0, "name")`` as ``items[0].name``."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _shown(value: Any) -> str:
    text = json.dumps(value, default=repr) if _is_json_like(value) else repr(value)
    return text if len(text) <= _MAX_SHOWN_INPUT else text[: _MAX_SHOWN_INPUT - 1] + "…"


def _is_json_like(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool | list | dict)


def _expected_parameters(spec: ToolSpec) -> str:
    fields = spec.arguments_model.model_fields
    if not fields:
        return "no parameters ({})"
    described = ", ".join(
        f"{info.alias} ({'required' if info.is_required() else 'optional'})"
        for info in fields.values()
    )
    return f"parameters: {described}"


def _json_type(value: Any) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "null" if value is None else type(value).__name__


def _qualified_name(function: Callable[..., Any]) -> str:
    module = getattr(function, "__module__", None) or "?"
    return f"{module}.{getattr(function, '__qualname__', repr(function))}"
