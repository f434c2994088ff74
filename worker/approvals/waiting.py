"""What waits for one person: the pending approvals of their tenants that their role may decide,
oldest first, each read inside its tenant's scope as that user.

Row-level security shows a membership only inside its tenant, so a user's tenants are found
through ``agentworker_tenants_of_user`` (migration 0010, ids only) and the role is read inside
each of those tenants' scope.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import sqlalchemy as sa

from models import (
    Approval,
    ApprovalDecision,
    ApprovalStatus,
    MembershipRole,
    Tenant,
    TenantMembership,
)
from models.tenant_scope import tenant_scope
from worker.approvals.roles import ROLE_RANK
from worker.approvals.views import ApprovalView, _view, _view_query, _votes_of

__all__ = ["MembershipOf", "Waiting", "memberships_of", "role_in", "waiting_for"]

_approvals = Approval.__table__
_votes = ApprovalDecision.__table__


@dataclass(frozen=True)
class MembershipOf:
    tenant_id: uuid.UUID
    tenant: str
    role: MembershipRole


@dataclass(frozen=True)
class Waiting:
    """A pending approval ``role`` may decide, and whether this user has voted on it already
    (an approval with a quorum waits for others after that)."""

    approval: ApprovalView
    role: MembershipRole
    voted: bool
    expires_in_seconds: float | None


def memberships_of(engine: sa.Engine, user_id: uuid.UUID) -> list[MembershipOf]:
    """The tenants ``user_id`` is a member of, with the role held there, by tenant slug."""
    with engine.connect() as connection:  # the one look-up made before a tenant is known
        tenant_ids = list(
            connection.execute(
                sa.text("SELECT agentworker_tenants_of_user(:user_id)"), {"user_id": user_id}
            ).scalars()
        )
        if not tenant_ids:
            return []
        tenants = connection.execute(
            sa.select(Tenant.id, Tenant.slug)
            .where(Tenant.id.in_(tenant_ids), Tenant.is_active.is_(True))
            .order_by(Tenant.slug)
        ).all()
    found = []
    for tenant in tenants:
        role = role_in(engine, tenant.id, user_id)
        if role is not None:
            found.append(MembershipOf(tenant.id, tenant.slug, role))
    return found


def role_in(engine: sa.Engine, tenant_id: uuid.UUID, user_id: uuid.UUID) -> MembershipRole | None:
    """``user_id``'s role in ``tenant_id``, or None for a non-member."""
    with tenant_scope(tenant_id, user_id=user_id), engine.connect() as connection:
        role = connection.execute(
            sa.select(TenantMembership.role).where(
                TenantMembership.tenant_id == tenant_id, TenantMembership.user_id == user_id
            )
        ).scalar_one_or_none()
    return MembershipRole(role) if role is not None else None


def waiting_for(engine: sa.Engine, user_id: uuid.UUID, *, limit: int = 200) -> list[Waiting]:
    """The pending approvals (not past their expiry) ``user_id`` may decide, oldest first."""
    waiting: list[Waiting] = []
    for membership in memberships_of(engine, user_id):
        decidable = [r for r, rank in ROLE_RANK.items() if rank <= ROLE_RANK[membership.role]]
        table = _approvals.c
        query = (
            _view_query()
            .add_columns(
                sa.func.extract("epoch", table.expires_at - sa.func.now()).label("expires_in")
            )
            .where(
                table.tenant_id == membership.tenant_id,
                table.status == ApprovalStatus.PENDING,
                table.required_role.in_(decidable),
                sa.or_(table.expires_at.is_(None), table.expires_at > sa.func.now()),
            )
            .order_by(table.created_at)
            .limit(limit)
        )
        with tenant_scope(membership.tenant_id, user_id=user_id), engine.connect() as connection:
            rows = connection.execute(query).all()
            votes = _votes_of(connection, [row.id for row in rows])
            voted = _voted_by(connection, [row.id for row in rows], user_id)
        for row in rows:
            waiting.append(
                Waiting(
                    approval=_view(row, votes.get(row.id, ())),
                    role=membership.role,
                    voted=row.id in voted,
                    expires_in_seconds=float(row.expires_in)
                    if row.expires_in is not None
                    else None,
                )
            )
    waiting.sort(key=lambda w: w.approval.created_at)
    return waiting[:limit]


def _voted_by(
    connection: sa.Connection, approval_ids: list[uuid.UUID], user_id: uuid.UUID
) -> set[uuid.UUID]:
    if not approval_ids:
        return set()
    return set(
        connection.execute(
            sa.select(_votes.c.approval_id).where(
                _votes.c.approval_id.in_(approval_ids), _votes.c.user_id == user_id
            )
        ).scalars()
    )
