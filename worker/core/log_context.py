"""Log context: fields bound to every log line written inside a block (CONVENTIONS 17).

A thin layer over ``structlog.contextvars``: each field is a ``contextvars.ContextVar``, so it
follows the code that set it (each thread of Celery's threads pool, and each asyncio task, sees
only its own), and any structlog user in the process sees the same context. What this layer
adds: ``None`` means "not known here" and binds nothing, ``log_context`` restores the outer
values when its block ends, and ``CONTEXT_FIELDS`` fixes the order ``worker.ops.logs`` writes
them in.

    with log_context(task_id=task.id, tenant_id=task.tenant_id):
        log.info("claimed")                     # {"message": "claimed", "task_id": "…", …}
"""

from __future__ import annotations

import contextvars
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeAlias

import structlog.contextvars as _structlog_context

#: The stable context fields, in the order they appear on a line.
CONTEXT_FIELDS: tuple[str, ...] = (
    "task_id",
    "tenant_id",
    "agent_run_id",
    "workflow_execution_id",
    "step",
    "action",
    "celery_task_id",
    "celery_task_name",
)

#: What ``bind`` returns and ``unbind`` takes: the token of each field it set.
Bound: TypeAlias = Mapping[str, contextvars.Token[Any]]


def current_context() -> dict[str, Any]:
    """A copy of the fields bound in the current context."""
    return _structlog_context.get_contextvars()


@contextmanager
def log_context(
    *,
    task_id: uuid.UUID | str | None = None,
    tenant_id: uuid.UUID | str | None = None,
    agent_run_id: uuid.UUID | str | None = None,
    workflow_execution_id: uuid.UUID | str | None = None,
    step: str | None = None,
    **fields: Any,
) -> Iterator[None]:
    """Add fields to every line logged inside the block, in this thread or task only.

    Blocks nest: inner fields are added to (or replace) outer ones, and the outer context is
    back when the block ends. ``None`` means "not known here" and leaves an outer value alone.
    """
    bound = bind(
        task_id=task_id,
        tenant_id=tenant_id,
        agent_run_id=agent_run_id,
        workflow_execution_id=workflow_execution_id,
        step=step,
        **fields,
    )
    try:
        yield
    finally:
        unbind(bound)


def bind(**fields: Any) -> Bound:
    """Add fields to the current context until ``unbind(bound)`` (or the context ends).

    ``None`` values are ignored. Prefer ``log_context``, which cannot forget to unbind.
    """
    known = {key: value for key, value in fields.items() if value is not None}
    return _structlog_context.bind_contextvars(**known)


def unbind(bound: Bound) -> None:
    """Restore the fields to what they were before the ``bind`` that returned ``bound``.

    Raises ``ValueError`` if ``bound`` was made in another context (another thread or task).
    """
    _structlog_context.reset_contextvars(**bound)


def clear_context() -> None:
    """Unbind every field, whoever bound it: for a context whose ``bind`` cannot be undone."""
    _structlog_context.clear_contextvars()
