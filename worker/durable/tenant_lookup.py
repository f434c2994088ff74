"""The few questions asked across tenants, before a unit of work knows its tenant.

Row-level security (migration 0007, ``models.tenant_scope``) shows a connection only its
tenant's rows. A message that names only a task, an execution or an approval, the heartbeat
and the periodic sweeps must first learn which tenant to act for; each asks one of these,
answered by a ``SECURITY DEFINER`` function that returns ids only, and then works inside that
tenant's scope.
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa


def tenant_of_task(connection: sa.Connection, task_id: uuid.UUID) -> uuid.UUID | None:
    return _scalar(connection, "agentworker_tenant_of_task(:id)", id=task_id)


def tenant_of_execution(connection: sa.Connection, execution_id: uuid.UUID) -> uuid.UUID | None:
    return _scalar(connection, "agentworker_tenant_of_execution(:id)", id=execution_id)


def tenant_of_approval(connection: sa.Connection, approval_id: uuid.UUID) -> uuid.UUID | None:
    return _scalar(connection, "agentworker_tenant_of_approval(:id)", id=approval_id)


def tenants_with_open_work(engine: sa.Engine) -> list[uuid.UUID]:
    """Tenants with a task, execution or approval that is not final: what sweeps visit."""
    with engine.connect() as connection:
        return list(
            connection.execute(sa.text("SELECT agentworker_tenants_with_open_work()")).scalars()
        )


def renew_leases(
    connection: sa.Connection, owner: str, task_ids: list[uuid.UUID], lease_seconds: float
) -> int:
    """Renew the leases ``owner`` holds on ``task_ids`` (any tenants); how many moved."""
    return int(
        _scalar(
            connection,
            "agentworker_renew_leases(:owner, :ids, :seconds)",
            owner=owner,
            ids=task_ids,
            seconds=lease_seconds,
        )
        or 0
    )


def _scalar(connection: sa.Connection, call: str, **params: Any) -> Any:
    return connection.execute(sa.text(f"SELECT {call}"), params).scalar_one()
