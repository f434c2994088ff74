"""Log context: fields bound to every log line written inside a block (CONVENTIONS 17).

Context lives in a ``contextvars.ContextVar``, so it follows the code that set it: each thread of
Celery's threads pool, and each asyncio task, sees only its own. ``worker.ops.logs`` writes it
on every line.

    with log_context(task_id=task.id, tenant_id=task.tenant_id):
        log.info("claimed")                     # {"message": "claimed", "task_id": "…", …}
"""

from __future__ import annotations

import contextvars
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

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

_EMPTY: Mapping[str, Any] = {}
_context: contextvars.ContextVar[Mapping[str, Any]] = contextvars.ContextVar(
    "agentworker_log_context", default=_EMPTY
)


def current_context() -> dict[str, Any]:
    """A copy of the fields bound in the current context."""
    return dict(_context.get())


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
    token = bind(
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
        unbind(token)


def bind(**fields: Any) -> contextvars.Token[Mapping[str, Any]]:
    """Add fields to the current context until ``unbind(token)`` (or the context ends).

    ``None`` values are ignored. Prefer ``log_context``, which cannot forget to unbind.
    """
    known = {key: value for key, value in fields.items() if value is not None}
    return _context.set({**_context.get(), **known})


def unbind(token: contextvars.Token[Mapping[str, Any]]) -> None:
    """Restore the context to what it was before the ``bind`` that returned ``token``."""
    _context.reset(token)
