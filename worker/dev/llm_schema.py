"""Deterministic example values from a JSON Schema, for the local LLM server.

The local server answers tool calls and structured-output requests by generating a value from
the schema it was given: every ``required`` property and none of the optional ones, the first
``enum`` value or the ``default`` where there is one, free-text properties filled from the
conversation and every other string from a short hash, so the same request always yields the
same value and that value validates against the schema.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

#: Properties of these names in a tool's parameters receive the user's text.
TOOL_TEXT_PROPERTIES = frozenset(
    {"query", "question", "text", "input", "prompt", "topic", "message"}
)
#: Properties of these names in a structured-output schema receive the answer text.
ANSWER_TEXT_PROPERTIES = frozenset(
    {"answer", "summary", "text", "content", "response", "result", "reply"}
)
MAX_TEXT_CHARS = 500
_MAX_DEPTH = 12
_FORMAT_EXAMPLES = {
    "date-time": "2024-01-01T00:00:00Z",
    "date": "2024-01-01",
    "time": "00:00:00",
    "email": "user@example.com",
    "uri": "https://example.com/",
    "url": "https://example.com/",
    "uuid": "00000000-0000-4000-8000-000000000000",
}


@dataclass(frozen=True)
class TextSource:
    """Where generated strings come from.

    ``text`` fills properties named in ``text_properties``; every other string is
    ``"<property> <6 hex chars of sha1(seed + property)>"``.
    """

    text: str
    seed: str
    text_properties: frozenset[str]

    def string_for(self, prop: str) -> str:
        if prop in self.text_properties:
            return self.text.strip()[:MAX_TEXT_CHARS]
        digest = hashlib.sha1((self.seed + prop).encode()).hexdigest()[:6]
        return f"{prop} {digest}"


def example_value(schema: object, source: TextSource) -> Any:
    """A value valid against ``schema``; ``$ref`` to ``#/$defs/…`` or ``#/definitions/…``
    is resolved against ``schema`` itself, as pydantic generates them."""
    root = schema if isinstance(schema, dict) else {}
    return _value(root, root, source, prop="value", depth=0)


def _value(schema: object, root: dict[str, Any], source: TextSource, prop: str, depth: int) -> Any:
    if not isinstance(schema, dict) or depth > _MAX_DEPTH:
        return None
    schema = _resolve(schema, root)
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    if "default" in schema:
        return schema["default"]
    if variant := _first_variant(schema, root):
        return _value(variant, root, source, prop, depth + 1)
    kind = _type_of(schema)
    if kind == "object":
        return _object(schema, root, source, depth)
    if kind == "array":
        return _array(schema, root, source, prop, depth)
    if kind == "integer":
        return _integer(schema)
    if kind == "number":
        return _number(schema)
    if kind == "boolean":
        return False
    if kind == "null":
        return None
    return _string(schema, source, prop)


def _resolve(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    seen: set[str] = set()
    while isinstance(ref := schema.get("$ref"), str) and ref not in seen:
        seen.add(ref)
        target: object = root
        for part in ref.removeprefix("#/").split("/") if ref.startswith("#/") else []:
            target = target.get(part) if isinstance(target, dict) else None
        if not isinstance(target, dict):
            return {k: v for k, v in schema.items() if k != "$ref"}
        # Sibling keywords next to a $ref (description, default) refine the target.
        schema = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    return schema


def _first_variant(schema: dict[str, Any], root: dict[str, Any]) -> dict[str, Any] | None:
    """The branch of anyOf/oneOf to use (the first that is not null), or allOf merged."""
    for keyword in ("anyOf", "oneOf"):
        options = [o for o in schema.get(keyword) or [] if isinstance(o, dict)]
        if options:
            non_null = [o for o in options if _resolve(o, root).get("type") != "null"]
            return (non_null or options)[0]
    parts = [_resolve(p, root) for p in schema.get("allOf") or [] if isinstance(p, dict)]
    if not parts:
        return None
    merged: dict[str, Any] = {"type": "object", "properties": {}, "required": []}
    for part in parts:
        if _type_of(part) != "object":
            return part
        merged["properties"].update(part.get("properties") or {})
        merged["required"] += [r for r in part.get("required") or [] if r not in merged["required"]]
    return merged


def _type_of(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if isinstance(kind, str):
        return kind
    return "object" if "properties" in schema else "string"


def _object(
    schema: dict[str, Any], root: dict[str, Any], source: TextSource, depth: int
) -> dict[str, Any]:
    properties = schema.get("properties") or {}
    required = [name for name in schema.get("required") or [] if isinstance(name, str)]
    return {
        name: _value(properties.get(name, {}), root, source, name, depth + 1) for name in required
    }


def _array(
    schema: dict[str, Any], root: dict[str, Any], source: TextSource, prop: str, depth: int
) -> list[Any]:
    count = schema.get("minItems", 0)
    items = schema.get("items", {})
    return [_value(items, root, source, prop, depth + 1) for _ in range(int(count))]


def _integer(schema: dict[str, Any]) -> int:
    if "minimum" in schema:
        return int(schema["minimum"])
    if "exclusiveMinimum" in schema:
        return int(schema["exclusiveMinimum"]) + 1
    return min(3, int(schema.get("maximum", 3)))


def _number(schema: dict[str, Any]) -> float:
    if "minimum" in schema:
        return float(schema["minimum"])
    return min(1.5, float(schema.get("maximum", 1.5)))


def _string(schema: dict[str, Any], source: TextSource, prop: str) -> str:
    if example := _FORMAT_EXAMPLES.get(str(schema.get("format"))):
        return example
    value = source.string_for(prop)
    value = value.ljust(int(schema.get("minLength", 0)), ".")
    if "maxLength" in schema:
        value = value[: int(schema["maxLength"])]
    return value
