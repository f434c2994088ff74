"""Expiring approvals nobody decided in time, run periodically by ``maintenance.expire_approvals``.

A batch of due approvals moves PENDING → EXPIRED in one guarded UPDATE (rows another sweep or
a decision holds are skipped, not waited for); each is audited and what it gates is woken, and
the gate then applies its ``on_timeout`` policy.
"""

from __future__ import annotations

import sqlalchemy as sa

from models import Approval, ApprovalStatus
from models.tenant_scope import tenant_scope
from worker.approvals.outcomes import audit, record_and_wake
from worker.durable import faults
from worker.durable.publishing import Publisher, Wake
from worker.durable.states import APPROVAL
from worker.durable.tenant_lookup import tenants_with_open_work

_approvals = Approval.__table__


def expire_due(engine: sa.Engine, publisher: Publisher, *, limit: int = 500) -> int:
    """Expire up to ``limit`` pending approvals past their expiry, per tenant with open work
    (each in its own scope: row-level security); returns how many."""
    expired = 0
    for tenant_id in tenants_with_open_work(engine):
        with tenant_scope(tenant_id):
            expired += _expire_tenant(engine, publisher, limit)
    return expired


def _expire_tenant(engine: sa.Engine, publisher: Publisher, limit: int) -> int:
    wakes: list[Wake] = []
    with engine.begin() as connection:
        due = (
            sa.select(_approvals.c.id)
            .where(
                _approvals.c.status == ApprovalStatus.PENDING,
                _approvals.c.expires_at <= sa.func.now(),
            )
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        expired = APPROVAL.apply_all(
            connection,
            ApprovalStatus.EXPIRED,
            where=[_approvals.c.id.in_(due)],
            values={"decided_at": sa.func.now()},
            returning=list(_approvals.c),
        )
        for approval in expired:
            audit(
                connection,
                approval,
                None,
                "system",
                "approval.expired",
                {"status": ["pending", "expired"]},
            )
            wakes += record_and_wake(
                connection, approval, ApprovalStatus.EXPIRED, "expired without a decision", None
            )
    for wake in wakes:
        faults.fault_point(faults.AFTER_DECISION_COMMITTED)
        wake.send(publisher)
    return len(expired)
