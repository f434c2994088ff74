"""What a tool approval is bound to: the digest of one tool call, and edited arguments checked.

The digest of a call is the SHA-256 (hex) of the canonical JSON of
``{"tool": <name>, "arguments": <arguments>}``: keys sorted at every depth, no insignificant
whitespace (``","`` and ``":"`` separators), non-ASCII characters as themselves, encoded as
UTF-8; NaN and infinities are refused. The arguments are the JSON object the model sent, parsed
(a text that is not a JSON object is digested as that text), with any ``{"$secret": …}``
reference as the reference, never its value. The same function digests what an approver is
shown, what they approve, and what is about to run, so the three are compared as equals.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

import jsonschema

from worker.approvals.errors import InvalidEditedArguments
from worker.core.contract import payload_size
from worker.core.limits import DEFAULT_MAX_INPUT_BYTES


def canonical_json(value: Any) -> str:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def tool_call_digest(tool: str, arguments: Any) -> str:
    """SHA-256 hex of the canonical ``{"tool": tool, "arguments": arguments}``."""
    document = canonical_json({"tool": tool, "arguments": arguments})
    return hashlib.sha256(document.encode("utf-8")).hexdigest()


def call_arguments(raw: str | Mapping[str, Any] | None) -> Any:
    """The arguments of a model's tool call as digested: the parsed JSON object, else the text."""
    if isinstance(raw, Mapping):
        return dict(raw)
    if raw is None:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return raw
    return value if isinstance(value, dict) else raw


def check_edited_arguments(tool: str, schema: Mapping[str, Any] | None, arguments: Any) -> None:
    """Refuse edited ``arguments`` that the tool's JSON Schema (stored with the approval, the
    one the model was given) does not accept, naming the first problem and where it is."""
    if not isinstance(arguments, dict):
        raise InvalidEditedArguments(
            f"edited arguments for tool '{tool}' must be a JSON object, not "
            f"{type(arguments).__name__}"
        )
    size = payload_size(arguments)
    if size > DEFAULT_MAX_INPUT_BYTES:  # as any entry point's free-form content
        raise InvalidEditedArguments(
            f"the edited arguments are {size} bytes; the limit is {DEFAULT_MAX_INPUT_BYTES}: "
            "edit fewer or shorter values, or reject the call"
        )
    if schema is None:
        raise InvalidEditedArguments(
            f"this approval does not carry tool '{tool}''s argument schema, so its arguments "
            "cannot be edited; approve or reject it as asked"
        )
    validator = jsonschema.Draft202012Validator(dict(schema))
    problems = sorted(validator.iter_errors(arguments), key=lambda e: list(e.absolute_path))
    if problems:
        first = problems[0]
        where = ".".join(str(p) for p in first.absolute_path) or "arguments"
        raise InvalidEditedArguments(
            f"the edited arguments do not fit tool '{tool}''s schema: {where}: {first.message}"
        )
    try:
        canonical_json(arguments)
    except ValueError as error:
        raise InvalidEditedArguments(f"the edited arguments are not plain JSON: {error}") from None
