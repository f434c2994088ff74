"""Who may decide an approval: tenant roles ranked, so "approver or above" is one comparison.

The request notifies everyone at or above the approval's required role, and a decision is
refused to anyone below it; both read the same ranking.
"""

from __future__ import annotations

from models import MembershipRole

ROLE_RANK = {
    MembershipRole.MEMBER: 0,
    MembershipRole.APPROVER: 1,
    MembershipRole.ADMIN: 2,
    MembershipRole.OWNER: 3,
}


def roles_at_or_above(required: MembershipRole) -> list[MembershipRole]:
    return [role for role, rank in ROLE_RANK.items() if rank >= ROLE_RANK[required]]


def ranks_below(role: MembershipRole, required: MembershipRole) -> bool:
    return ROLE_RANK[role] < ROLE_RANK[required]
