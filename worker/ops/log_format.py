"""The shape of a log line, as structlog processors: what ``worker.ops.logs`` writes.

A line is ``ts`` (ISO 8601, UTC), ``level``, ``logger`` and ``message``; then the context bound
where the line was logged (``worker.core.log_context``: ``CONTEXT_FIELDS`` in their order, then
anything else bound, by name); then the line's own fields (a stdlib record's ``extra=``, a
structlog call's keywords); then ``exc_type`` / ``exc_info`` / ``stack``. A field named like one
of these cannot replace it. Everything but ``ts``, ``level`` and ``logger`` is redacted
(``worker.security.redact``); JSON lines are always valid JSON (NaN, sets, objects become text).

The formatters are structlog ``ProcessorFormatter`` subclasses, so a stdlib record (ours,
Celery's, a library's) and a structlog logger's entry go through the same processors and come
out the same way.
"""

from __future__ import annotations

import logging
import math
import sys
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from types import TracebackType
from typing import Any, TypeAlias

import structlog
from structlog.typing import EventDict, Processor

from worker.core.log_context import CONTEXT_FIELDS, current_context
from worker.security.redact import redact, secrets_from_environment

__all__ = ["JsonFormatter", "TextFormatter"]

#: Attributes every LogRecord has; anything else on a record came from ``extra=``.
_RECORD_ATTRIBUTES = frozenset(
    {
        *logging.LogRecord("", logging.INFO, "", 0, "", (), None).__dict__,
        "message",
        "asctime",
        "taskName",
    }
)
_CORE_FIELDS = frozenset({"ts", "level", "logger", "message", "exc_type", "exc_info", "stack"})
#: Written as they are: the first three fields of every line, none of them free text.
_UNREDACTED = ("ts", "level", "logger")
_EXCEPTION_FORMATTER = logging.Formatter()
#: A stdlib record's ``extra=`` fields join the event dict (a structlog call's are in it).
_FOREIGN_PRE_CHAIN: list[Processor] = [structlog.stdlib.ExtraAdder()]
_ExcInfo: TypeAlias = tuple[type[BaseException], BaseException, TracebackType | None]


def _shape_line(_: Any, __: str, event: EventDict) -> EventDict:
    """The line's fields in their order (see the module docstring), from the event dict that
    ``ProcessorFormatter`` makes of a record. A field named like a core field cannot replace
    it."""
    record: logging.LogRecord = event.pop("_record")
    from_structlog = event.pop("_from_structlog", False)
    error = _exc_info(event.pop("exc_info", None))
    stack = event.pop("stack_info", None) or (event.pop("stack", None) if from_structlog else None)
    line: dict[str, Any] = {
        "ts": _timestamp(record.created),
        "level": record.levelname,
        "logger": record.name,
        "message": str(event.pop("event", "")),
    }
    context = current_context()
    fields = {key: context[key] for key in CONTEXT_FIELDS if key in context}
    fields.update((key, context[key]) for key in sorted(context) if key not in fields)
    fields.update(
        (key, value)
        for key, value in event.items()
        if key not in _RECORD_ATTRIBUTES and not key.startswith("_")
    )
    line.update((key, value) for key, value in fields.items() if key not in _CORE_FIELDS)
    if error is not None:
        line["exc_type"] = error[0].__name__
        line["exc_info"] = _EXCEPTION_FORMATTER.formatException(error)
    if isinstance(stack, str):
        line["stack"] = stack
    return line


def _exc_info(value: Any) -> _ExcInfo | None:
    """A record's ``exc_info`` tuple, or a structlog call's ``exc_info=True`` / exception."""
    if value is True:
        value = sys.exc_info()
    elif isinstance(value, BaseException):
        value = (type(value), value, value.__traceback__)
    if isinstance(value, tuple) and len(value) == 3 and value[0] is not None:
        return value  # type: ignore[return-value]
    return None


def _timestamp(created: float) -> str:
    return datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


class _Redact:
    """Redact every field but ``ts``, ``level`` and ``logger``: values under secret-looking
    names whole, credential shapes and the known secrets inside any text."""

    def __init__(self, known_secrets: Iterable[str] | None) -> None:
        secrets = secrets_from_environment() if known_secrets is None else known_secrets
        self._secrets = tuple(secrets)

    def __call__(self, _: Any, __: str, line: EventDict) -> EventDict:
        free = {key: value for key, value in line.items() if key not in _UNREDACTED}
        visible = {key: line[key] for key in _UNREDACTED if key in line}
        return {**visible, **redact(free, known_secrets=self._secrets)}


def _jsonable_line(_: Any, __: str, line: EventDict) -> EventDict:
    return _jsonable(line)


def _jsonable(value: Any) -> Any:
    """``value`` (already redacted) as something ``json.dumps`` writes as valid JSON."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(item) for item in value]
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    return str(value)


def _render_text(_: Any, __: str, line: EventDict) -> str:
    """``ts LEVEL logger: message [field=value …]``, then the traceback and stack."""
    fields = " ".join(f"{key}={value}" for key, value in line.items() if key not in _CORE_FIELDS)
    first, newline, rest = line["message"].partition("\n")
    text = f"{line['ts']} {line['level']:<8} {line['logger']}: {first}"
    text += f" [{fields}]{newline}{rest}" if fields else f"{newline}{rest}"
    for key in ("exc_info", "stack"):
        if key in line:
            text += "\n" + line[key]
    return text


class JsonFormatter(structlog.stdlib.ProcessorFormatter):
    """One JSON object per line: ``ts``, ``level``, ``logger``, ``message``, the bound context,
    the line's own fields, and ``exc_type`` / ``exc_info`` / ``stack`` when present.

    Everything but the timestamp, level and logger name is redacted; ``known_secrets``
    defaults to the secrets found in the environment when the formatter is made.
    """

    def __init__(self, *, known_secrets: Iterable[str] | None = None) -> None:
        super().__init__(
            foreign_pre_chain=_FOREIGN_PRE_CHAIN,
            processors=[
                _shape_line,
                _Redact(known_secrets),
                _jsonable_line,
                structlog.processors.JSONRenderer(ensure_ascii=False, allow_nan=False),
            ],
        )


class TextFormatter(structlog.stdlib.ProcessorFormatter):
    """Human-readable lines for a terminal (``configure_logging(json=False)``): the same fields
    as the JSON lines, redacted the same way, as ``ts LEVEL logger: message [key=value …]``."""

    def __init__(self, *, known_secrets: Iterable[str] | None = None) -> None:
        super().__init__(
            foreign_pre_chain=_FOREIGN_PRE_CHAIN,
            processors=[_shape_line, _Redact(known_secrets), _render_text],
        )
