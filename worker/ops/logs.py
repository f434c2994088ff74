"""Structured logs: one JSON object per line, with stable fields (CONVENTIONS 17).

Every line has ``ts`` (ISO 8601, UTC), ``level``, ``logger`` and ``message``; then the context
that is known where the line was logged (``task_id``, ``tenant_id``, ``agent_run_id``,
``workflow_execution_id``, ``step``, ``celery_task_id``, ``celery_task_name``, and anything
else bound); then the record's ``extra=`` fields; then ``exc_type`` / ``exc_info`` for errors.
Messages, context, extra fields and tracebacks are redacted (``worker.security.redact``) with the
credential patterns and the secrets found in the environment.

Context lives in a ``contextvars.ContextVar``, so it follows the code that set it: each thread of
Celery's threads pool, and each asyncio task, sees only its own.

    with log_context(task_id=task.id, tenant_id=task.tenant_id):
        log.info("claimed")                     # {"message": "claimed", "task_id": "…", …}

In a worker, ``install_celery_hooks()`` (called from ``worker.app``) installs the formatter when
Celery sets up logging, and binds ``celery_task_id``, ``celery_task_name`` and the ids found in
a task's kwargs (``task_id``, ``execution_id``, ``tenant``, ``approval_id``) while it runs.
"""

from __future__ import annotations

import contextvars
import json as _json
import logging
import math
import sys
import threading
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, TextIO

from worker.core.errors import ConfigurationError
from worker.core.log_context import (
    _EMPTY,
    CONTEXT_FIELDS,
    _context,
    bind,
    current_context,
    log_context,
    unbind,
)
from worker.security.redact import redact, redact_text, secrets_from_environment

__all__ = [
    "CONTEXT_FIELDS",
    "JsonFormatter",
    "TextFormatter",
    "bind",
    "configure_logging",
    "current_context",
    "install_celery_hooks",
    "log_context",
    "unbind",
    "uninstall_celery_hooks",
]

# --- formatting -------------------------------------------------------------------------------

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


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``ts``, ``level``, ``logger``, ``message``, the bound context,
    the record's extra fields, and ``exc_type`` / ``exc_info`` / ``stack`` when present.

    Everything but the level and logger name is redacted; ``known_secrets`` defaults to the
    secrets found in the environment when the formatter is made. An extra field named like a
    core field (``ts``, ``level``, ``logger``, ``message``, …) cannot replace it.
    """

    def __init__(self, *, known_secrets: Iterable[str] | None = None) -> None:
        super().__init__()
        secrets = secrets_from_environment() if known_secrets is None else known_secrets
        self._secrets = tuple(secrets)

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": _timestamp(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": redact_text(record.getMessage(), known_secrets=self._secrets),
        }
        fields = _ordered_context(_context.get())
        fields.update(
            (key, value)
            for key, value in record.__dict__.items()
            if key not in _RECORD_ATTRIBUTES and not key.startswith("_")
        )
        line.update(
            (key, value)
            for key, value in _jsonable(redact(fields, known_secrets=self._secrets)).items()
            if key not in _CORE_FIELDS
        )
        if record.exc_info and record.exc_info[0] is not None:
            line["exc_type"] = record.exc_info[0].__name__
        exception = record.exc_text or (
            self.formatException(record.exc_info) if record.exc_info else None
        )
        if exception:
            line["exc_info"] = redact_text(exception, known_secrets=self._secrets)
        if record.stack_info:
            line["stack"] = redact_text(
                self.formatStack(record.stack_info), known_secrets=self._secrets
            )
        return _json.dumps(line, ensure_ascii=False, allow_nan=False)


class TextFormatter(logging.Formatter):
    """Human-readable lines for a terminal (``configure_logging(json=False)``): time, level,
    logger, message and ``[key=value …]`` context, redacted like the JSON lines."""

    def __init__(self, *, known_secrets: Iterable[str] | None = None) -> None:
        super().__init__("%(asctime)s %(levelname)-8s %(name)s: %(message)s")
        secrets = secrets_from_environment() if known_secrets is None else known_secrets
        self._secrets = tuple(secrets)

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        context = _ordered_context(_context.get())
        if context:
            pairs = " ".join(f"{key}={value}" for key, value in context.items())
            first, newline, rest = text.partition("\n")
            text = f"{first} [{pairs}]{newline}{rest}"
        return redact_text(text, known_secrets=self._secrets)


def _timestamp(created: float) -> str:
    return datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def _ordered_context(context: Mapping[str, Any]) -> dict[str, Any]:
    ordered = {key: context[key] for key in CONTEXT_FIELDS if key in context}
    ordered.update((key, value) for key, value in context.items() if key not in ordered)
    return ordered


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


# --- configuration ----------------------------------------------------------------------------

_lock = threading.Lock()
#: Libraries that log every request at INFO: one line per LLM call (httpx) says nothing the
#: event log does not, and costs the worker CPU. Their warnings still come through.
_CHATTY_LIBRARIES = ("httpx", "httpx2", "httpcore", "httpcore2")


def configure_logging(
    level: str | int,
    json: bool = True,
    *,
    stream: TextIO | None = None,
    logfile: str | None = None,
) -> logging.Handler:
    """Send the root logger's records at ``level`` and above to ``stream`` (stderr by
    default) or ``logfile``, as JSON lines (or human-readable text with ``json=False``).

    Idempotent: a second call replaces the handler the first installed instead of adding one.
    Handlers others installed (pytest's, a library's) are left alone. Returns the handler.
    """
    number = level_number(level)
    handler: logging.Handler = (
        logging.FileHandler(logfile, encoding="utf-8")
        if logfile
        else logging.StreamHandler(stream if stream is not None else sys.stderr)
    )
    handler.setFormatter(JsonFormatter() if json else TextFormatter())
    handler._agentworker = True  # type: ignore[attr-defined]
    root = logging.getLogger()
    with _lock:
        for old in [h for h in root.handlers if getattr(h, "_agentworker", False)]:
            root.removeHandler(old)
            old.close()
        root.addHandler(handler)
        root.setLevel(number)
        for name in _CHATTY_LIBRARIES:
            logging.getLogger(name).setLevel(max(number, logging.WARNING))
    return handler


def level_number(level: str | int) -> int:
    """``"info"``, ``"INFO"``, ``"20"`` or ``20`` → 20; anything else is a ConfigurationError."""
    if isinstance(level, int):
        return level
    name = level.strip().upper()
    if name.isdigit():
        return int(name)
    levels = logging.getLevelNamesMapping()
    if name not in levels:
        raise ConfigurationError(
            f"unknown log level {level!r} (LOG_LEVEL): use DEBUG, INFO, WARNING, ERROR or CRITICAL"
        )
    return levels[name]


# --- Celery -----------------------------------------------------------------------------------

_UID = "agentworker.logs"
#: Task kwargs bound while a task runs, and the field each becomes.
_KWARG_FIELDS = {
    "task_id": "task_id",
    "execution_id": "workflow_execution_id",
    "approval_id": "approval_id",
}
_celery_tokens: dict[tuple[str, int], contextvars.Token[Mapping[str, Any]]] = {}
_celery_tokens_lock = threading.Lock()


def install_celery_hooks() -> None:
    """Make Celery log through ``configure_logging`` and bind task context. Idempotent.

    - ``setup_logging``: Celery installs no handlers of its own; JSON lines at the more verbose
      of ``LOG_LEVEL`` (settings) and the worker's ``--loglevel``, to ``--logfile`` if given.
    - ``task_prerun`` / ``task_postrun``: while a task runs, its lines carry
      ``celery_task_id``, ``celery_task_name`` and, when its kwargs name them, ``task_id``,
      ``workflow_execution_id`` (``execution_id``), ``approval_id`` and ``tenant_id`` (a
      ``tenant`` that is a UUID; a slug is bound as ``tenant``).
    """
    from celery import signals

    signals.setup_logging.connect(_on_setup_logging, weak=False, dispatch_uid=_UID)
    signals.task_prerun.connect(_on_task_prerun, weak=False, dispatch_uid=_UID)
    signals.task_postrun.connect(_on_task_postrun, weak=False, dispatch_uid=_UID)


def uninstall_celery_hooks() -> None:
    """Undo ``install_celery_hooks`` (for tests and embedding applications)."""
    from celery import signals

    for signal in (signals.setup_logging, signals.task_prerun, signals.task_postrun):
        signal.disconnect(dispatch_uid=_UID)


def _on_setup_logging(
    loglevel: int | str | None = None, logfile: str | None = None, **_: Any
) -> None:
    from worker.core.settings import get_settings

    level = level_number(get_settings().log_level)
    if loglevel is not None:
        level = min(level, level_number(loglevel))
    configure_logging(level, logfile=logfile or None)


def _on_task_prerun(
    task_id: str | None = None,
    task: Any = None,
    kwargs: Mapping[str, Any] | None = None,
    **_: Any,
) -> None:
    fields: dict[str, Any] = {
        "celery_task_id": task_id,
        "celery_task_name": getattr(task, "name", None),
    }
    for kwarg, field in _KWARG_FIELDS.items():
        fields[field] = _identifier((kwargs or {}).get(kwarg))
    tenant = _identifier((kwargs or {}).get("tenant"))
    if tenant is not None:
        fields["tenant_id" if _is_uuid(tenant) else "tenant"] = tenant
    token = bind(**fields)
    with _celery_tokens_lock:
        _celery_tokens[(str(task_id), threading.get_ident())] = token


def _on_task_postrun(task_id: str | None = None, **_: Any) -> None:
    with _celery_tokens_lock:
        token = _celery_tokens.pop((str(task_id), threading.get_ident()), None)
    if token is None:
        return
    try:
        unbind(token)
    except ValueError:  # bound in another context (a pool that does not keep one per task)
        _context.set(_EMPTY)


def _identifier(value: Any) -> str | None:
    """A kwarg worth binding: an id or a name, not a payload."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, str) and 0 < len(value) <= 200:
        return value
    return None


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
