"""Deciding an approval (DESIGN §4-5): approve or reject, as a user of its tenant.

A decision is one guarded UPDATE (``… WHERE status = 'pending'`` and not past its expiry), so
the first decision wins and the others are told who decided and when. A decision is audited in
the transaction of the change; a refused attempt (unknown user, wrong tenant, too low a role)
is audited too, in a transaction of its own, since nothing else changes.
"""

from __future__ import annotations

import uuid
from typing import Any, Literal

import sqlalchemy as sa

from models import Approval, ApprovalStatus, MembershipRole, Tenant, TenantMembership, User
from worker.approvals.errors import (
    AlreadyDecided,
    ApprovalError,
    ApprovalNotFound,
    NotAllowed,
    approval_uuid,
)
from worker.approvals.outcomes import audit, record_and_wake
from worker.approvals.roles import ranks_below
from worker.approvals.views import ApprovalView, get_approval
from worker.durable import faults
from worker.durable.publishing import Publisher
from worker.durable.states import APPROVAL

_approvals = Approval.__table__

Decision = Literal["approve", "reject"]


def resolve(
    engine: sa.Engine,
    publisher: Publisher,
    approval_id: uuid.UUID | str,
    decision: Decision,
    user: str,
    comment: str | None = None,
) -> ApprovalView:
    """Decide a pending approval as ``user`` (email or id). The first decision wins."""
    if decision not in ("approve", "reject"):
        raise ApprovalError(f"decision must be 'approve' or 'reject', not {decision!r}")
    approval_id = approval_uuid(approval_id)
    target = ApprovalStatus.APPROVED if decision == "approve" else ApprovalStatus.REJECTED
    with engine.begin() as connection:
        approval = connection.execute(
            sa.select(_approvals).where(_approvals.c.id == approval_id)
        ).one_or_none()
        if approval is None:
            raise ApprovalNotFound(f"no approval {approval_id}")
        actor = _find_user(connection, user)
        refusal = _refusal(connection, approval, actor, user)
    if refusal is not None:
        with engine.begin() as connection:  # the refusal is audited even though nothing changes
            audit(
                connection,
                approval,
                actor,
                user,
                "approval.refused",
                {"attempted": decision, "reason": refusal},
            )
        raise NotAllowed(refusal)

    with engine.begin() as connection:
        moved = APPROVAL.apply(
            connection,
            approval_id,
            target,
            sources=[ApprovalStatus.PENDING],
            where=[
                sa.or_(_approvals.c.expires_at.is_(None), _approvals.c.expires_at > sa.func.now())
            ],
            values={
                "decided_by_user_id": actor.id,
                "decided_at": sa.func.now(),
                "decision_comment": comment,
            },
        )
        if moved is None:
            raise AlreadyDecided(_already(connection, approval_id))
        audit(
            connection,
            approval,
            actor,
            user,
            f"approval.{target.value}",
            {"status": ["pending", target.value], "comment": comment},
        )
        wakes = record_and_wake(connection, approval, target, f"{target.value} by {user}", comment)
    for wake in wakes:
        faults.fault_point(faults.AFTER_DECISION_COMMITTED)
        wake.send(publisher)
    return get_approval(engine, approval_id)


def _refusal(
    connection: sa.Connection, approval: sa.Row[Any], actor: sa.Row[Any] | None, user: str
) -> str | None:
    """Why ``user`` may not decide ``approval``, or None if they may."""
    tenant = connection.execute(
        sa.select(Tenant.slug).where(Tenant.id == approval.tenant_id)
    ).scalar_one()
    if actor is None:
        return f"unknown user '{user}': approvers are users of tenant '{tenant}'"
    role = connection.execute(
        sa.select(TenantMembership.role).where(
            TenantMembership.tenant_id == approval.tenant_id, TenantMembership.user_id == actor.id
        )
    ).scalar_one_or_none()
    required = MembershipRole(approval.required_role)
    if role is None:
        return f"{actor.email} is not a user of tenant '{tenant}', so cannot decide its approvals"
    if ranks_below(MembershipRole(role), required):
        return (
            f"{actor.email} is '{role}' in tenant '{tenant}'; deciding this approval needs "
            f"'{required.value}' or above"
        )
    return None


def _already(connection: sa.Connection, approval_id: uuid.UUID) -> str:
    """Why a decision found no pending approval: who decided it and when, or its expiry."""
    row = connection.execute(
        sa.select(_approvals.c.status, _approvals.c.decided_at, _approvals.c.expires_at, User.email)
        .outerjoin(User, User.id == _approvals.c.decided_by_user_id)
        .where(_approvals.c.id == approval_id)
    ).one()
    if row.status == ApprovalStatus.PENDING:  # pending but past its expiry
        return f"approval {approval_id} expired at {row.expires_at:%Y-%m-%d %H:%M:%S %Z}"
    who = f" by {row.email}" if row.email else ""
    return f"already {row.status}{who} at {row.decided_at:%Y-%m-%d %H:%M:%S %Z}"


def _find_user(connection: sa.Connection, user: str) -> sa.Row[Any] | None:
    try:
        condition = User.id == uuid.UUID(user)
    except ValueError:
        condition = sa.func.lower(User.email) == user.lower()
    return connection.execute(sa.select(User.id, User.email).where(condition)).one_or_none()
