"""Structured logs: one JSON object per line, with stable fields (CONVENTIONS 17).

Every line has ``ts`` (ISO 8601, UTC), ``level``, ``logger`` and ``message``; then the context
bound where the line was logged (``task_id``, ``tenant_id``, ``agent_run_id``,
``workflow_execution_id``, ``step``, ``action``, ``celery_task_id``, ``celery_task_name``, then
anything else bound); then the line's own fields (``extra=``); then ``exc_type`` / ``exc_info``
/ ``stack``; all of it redacted. ``worker.ops.log_format`` shapes the line; this module puts
its formatter on the root logger (``configure_logging``, which also points
``structlog.get_logger()`` loggers at it) and binds Celery's task ids.

    with log_context(task_id=task.id, tenant_id=task.tenant_id):
        log.info("claimed")                     # {"message": "claimed", "task_id": "…", …}

In a worker, ``install_celery_hooks()`` (called from ``worker.app``) installs the formatter when
Celery sets up logging, and binds ``celery_task_id``, ``celery_task_name`` and the ids found in
a task's kwargs (``task_id``, ``execution_id``, ``tenant``, ``approval_id``) while it runs.
"""

from __future__ import annotations

import logging
import sys
import threading
import uuid
from collections.abc import Mapping
from typing import Any, TextIO

import structlog
from structlog.typing import Processor

from worker.core.errors import ConfigurationError
from worker.core.log_context import (
    CONTEXT_FIELDS,
    Bound,
    bind,
    clear_context,
    current_context,
    log_context,
    unbind,
)
from worker.ops.log_format import JsonFormatter, TextFormatter

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

# --- configuration ----------------------------------------------------------------------------

_lock = threading.Lock()
#: Libraries that log every request at INFO: one line per LLM call (httpx) says nothing the
#: event log does not, and costs the worker CPU. Their warnings still come through.
_CHATTY_LIBRARIES = ("httpx", "httpx2", "httpcore", "httpcore2")
#: A structlog logger's entries become stdlib records for the formatters.
_STRUCTLOG_PROCESSORS: list[Processor] = [
    structlog.stdlib.filter_by_level,
    structlog.stdlib.PositionalArgumentsFormatter(),
    structlog.processors.StackInfoRenderer(),
    structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
]


def configure_logging(
    level: str | int,
    json: bool = True,
    *,
    stream: TextIO | None = None,
    logfile: str | None = None,
) -> logging.Handler:
    """Send the root logger's records at ``level`` and above to ``stream`` (stderr by
    default) or ``logfile``, as JSON lines (or human-readable text with ``json=False``);
    ``structlog.get_logger()`` loggers write through the same handler.

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
        structlog.configure(
            processors=_STRUCTLOG_PROCESSORS,
            logger_factory=_stdlib_logger,
            wrapper_class=structlog.stdlib.BoundLogger,
            cache_logger_on_first_use=True,
        )
    return handler


def _stdlib_logger(*args: Any) -> logging.Logger:
    """The stdlib logger behind ``structlog.get_logger(name)``. Not structlog's
    ``LoggerFactory``: that one swaps the logger class of the whole process."""
    return logging.getLogger(args[0] if args else "structlog")


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
_celery_bindings: dict[tuple[str, int], Bound] = {}
_celery_bindings_lock = threading.Lock()


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
    bound = bind(**fields)
    with _celery_bindings_lock:
        _celery_bindings[(str(task_id), threading.get_ident())] = bound


def _on_task_postrun(task_id: str | None = None, **_: Any) -> None:
    with _celery_bindings_lock:
        bound = _celery_bindings.pop((str(task_id), threading.get_ident()), None)
    if bound is None:
        return
    try:
        unbind(bound)
    except ValueError:  # bound in another context (a pool that does not keep one per task)
        clear_context()


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
