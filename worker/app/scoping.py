"""Which tenant a message acts for, found before its handler runs (row-level security).

A message names its tenant (``tenant``: a slug or id), or only a task, an execution or an
approval whose tenant the database knows. The task layer runs each handler inside that
tenant's scope (``models.tenant_scope``); a message that names nothing known runs with no
tenant, and sees no tenant's rows.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import sqlalchemy as sa

from models.tenant_scope import tenant_scope
from worker.core.contract import ADVANCE_WORKFLOW, RESOLVE_APPROVAL, RUN_TASK
from worker.core.tenants import tenant_named_by
from worker.durable.tenant_lookup import tenant_of_approval, tenant_of_execution, tenant_of_task

_BY_REFERENCE: dict[str, tuple[str, Callable[[sa.Connection, uuid.UUID], uuid.UUID | None]]] = {
    RUN_TASK: ("task_id", tenant_of_task),
    ADVANCE_WORKFLOW: ("execution_id", tenant_of_execution),
    RESOLVE_APPROVAL: ("approval_id", tenant_of_approval),
}


def message_tenant(engine: sa.Engine, task_name: str, payload: Any) -> uuid.UUID | None:
    """The tenant ``payload`` acts for, or None when it names none that exists."""
    if not isinstance(payload, Mapping):
        return None
    with engine.connect() as connection:
        if task_name in _BY_REFERENCE:
            field, lookup = _BY_REFERENCE[task_name]
            reference = _uuid(payload.get(field))
            if reference is not None:
                return lookup(connection, reference)
        return tenant_named_by(connection, payload)


@contextlib.contextmanager
def message_scope(engine: sa.Engine, task_name: str, payload: Any) -> Iterator[uuid.UUID | None]:
    tenant_id = message_tenant(engine, task_name, payload)
    with tenant_scope(tenant_id):
        yield tenant_id


def _uuid(value: Any) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value)) if isinstance(value, str | uuid.UUID) else None
    except ValueError:
        return None
