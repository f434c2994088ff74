"""How much one message may carry: the same bound (``AGENTWORKER_MAX_INPUT_BYTES``, the JSON
size in UTF-8 bytes) on every entry point's free-form content: a task's input and metadata, a
workflow's input, an inline knowledge document and its metadata. Too large is refused before
anything is stored, and the refusal is recorded where the sender can read it."""

from __future__ import annotations

from typing import Any

from worker.core.contract import payload_size
from worker.core.errors import AgentWorkerError
from worker.core.settings import Settings

#: The limit when a caller passes none (the setting's default).
DEFAULT_MAX_INPUT_BYTES: int = Settings.model_fields["max_input_bytes"].default


class InputTooLarge(AgentWorkerError):
    code = "input_too_large"


def check_size(value: Any, limit: int, *, what: str, instead: str) -> None:
    """Raise ``InputTooLarge`` if ``value``, as JSON, is over ``limit`` bytes; ``instead``
    says what to send in its place."""
    size = payload_size(value)
    if size > limit:
        raise InputTooLarge(
            f"{what} is {size} bytes; the limit is {limit} (AGENTWORKER_MAX_INPUT_BYTES): {instead}"
        )


def storable(payload: Any, error: Exception) -> Any:
    """What to keep of a refused ``payload``: all of it, unless it was refused for its size
    (then its small scalar fields and its size, so a flood of huge messages stores little)."""
    if not isinstance(error, InputTooLarge):
        return payload
    kept = (
        {k: v for k, v in payload.items() if isinstance(v, str | int | bool) and len(str(v)) < 300}
        if isinstance(payload, dict)
        else {}
    )
    return {**kept, "omitted": f"too large to keep ({payload_size(payload)} bytes)"}
