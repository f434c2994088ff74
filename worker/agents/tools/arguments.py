"""A tool's arguments: the pydantic model and JSON Schema built from its function's
parameters, and the model's arguments checked against them.

The schema is what the model sees; the same model validates what the model sends back
(unknown arguments rejected). Every failure names what was expected, so the model can fix its
call: at registration a ``ToolDefinitionError`` for the developer, at run time a
``ToolArgumentsInvalid`` for the model.
"""

from __future__ import annotations

import inspect
import json
import re
import typing
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from worker.agents.tools.errors import ToolArgumentsInvalid, ToolDefinitionError
from worker.agents.tools.specs import ToolContext, ToolSpec

#: How much of a rejected value an error message shows the model.
_MAX_SHOWN_INPUT = 80
#: Keywords whose values are data, not schemas: a "title" inside them is kept.
_DATA_KEYWORDS = frozenset({"default", "examples", "const", "enum"})


# --- building the model and schema from a function --------------------------------------------


def arguments_model(name: str, function: Callable[..., Any]) -> type[BaseModel]:
    """A pydantic model of ``function``'s parameters after its ``ToolContext``, each field
    aliased to its parameter's name; extra arguments are forbidden."""
    if inspect.iscoroutinefunction(function) or inspect.isasyncgenfunction(function):
        raise ToolDefinitionError(
            f"tool {name!r}: {qualified_name(function)} is async; tools run in a synchronous "
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
            f"{qualified_name(function)}: {error}"
        ) from error


def parameters_schema(name: str, model: type[BaseModel]) -> dict[str, Any]:
    """The JSON Schema the model sees for ``model``, without pydantic's titles."""
    try:
        schema = model.model_json_schema()
    except Exception as error:  # a type pydantic can validate but not describe
        raise ToolDefinitionError(
            f"tool {name!r}: cannot describe its parameters as JSON Schema: {error}"
        ) from error
    return _without_titles(schema)


def qualified_name(function: Callable[..., Any]) -> str:
    """``module.qualname`` of a function, for messages that tell a developer where to look."""
    module = getattr(function, "__module__", None) or "?"
    return f"{module}.{getattr(function, '__qualname__', repr(function))}"


def _type_hints(name: str, function: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(function, include_extras=True)
    except Exception as error:  # NameError for a type not importable from the function's module
        raise ToolDefinitionError(
            f"tool {name!r}: cannot resolve the type hints of {qualified_name(function)} "
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
            f"tool {name!r}: the first parameter of {qualified_name(function)} must be "
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


# --- checking the model's arguments -----------------------------------------------------------


def validated_arguments(spec: ToolSpec, raw: str | bytes | Mapping[str, Any]) -> dict[str, Any]:
    """The model's arguments (a JSON text or a mapping) validated and coerced to the keyword
    arguments of ``spec``'s function; ``ToolArgumentsInvalid`` says what to send instead."""
    arguments = _parse_arguments(spec.name, raw) if isinstance(raw, str | bytes) else raw
    if not isinstance(arguments, Mapping):
        raise ToolArgumentsInvalid(
            f"arguments for tool {spec.name!r} must be a JSON object, not "
            f"{_json_type(arguments)}. Expected {_expected_parameters(spec)}",
            tool_name=spec.name,
        )
    try:
        validated = spec.arguments_model.model_validate(dict(arguments))
    except ValidationError as error:
        raise _arguments_invalid(spec, error) from error
    return {
        field_info.alias or field_name: getattr(validated, field_name)
        for field_name, field_info in type(validated).model_fields.items()
    }


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
