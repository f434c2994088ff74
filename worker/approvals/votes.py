"""One approver's vote on an approval: bound to what they were shown, counted toward its quorum.

An approval needs ``quorum`` distinct approvers approving the same digest (for a tool approval:
the call pending now), or ``rejections_needed`` rejections; the first vote to reach either
decides. A tool approval's vote names the digest its approver was shown; one that differs from
the pending call is refused as stale. An approver may edit the arguments (validated against the
tool's schema): their vote approves the edited call, which then becomes the call pending, so an
approval vote cast for the earlier call no longer counts toward the quorum.

All of it runs in the caller's transaction, with the approval row locked ``FOR UPDATE``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa

from models import Approval, ApprovalDecision, ApprovalKind, ApprovalStatus, VoteDecision
from worker.approvals.deciders import Decider
from worker.approvals.digests import check_edited_arguments, tool_call_digest
from worker.approvals.errors import ApprovalError, DuplicateVote, StaleRequest
from worker.security.principals import Principal

_approvals = Approval.__table__
_votes = ApprovalDecision.__table__

Decision = Literal["approve", "reject"]


@dataclass(frozen=True)
class Bound:
    """What a vote approves or rejects: the digest, and the arguments when edited."""

    digest: str | None
    arguments: dict[str, Any] | None = None

    @property
    def edited(self) -> bool:
        return self.arguments is not None


@dataclass(frozen=True)
class Tally:
    approvals: int
    rejections: int
    outcome: ApprovalStatus | None  # APPROVED or REJECTED once decided, else None


def bind(
    approval: sa.Row[Any],
    decision: Decision,
    digest: str | None,
    arguments: dict[str, Any] | None,
) -> Bound:
    """The digest (and edited arguments) this vote is bound to; ``StaleRequest`` when the
    approver saw another call than the one pending, ``InvalidEditedArguments`` for an edit the
    tool's schema refuses."""
    if approval.kind != ApprovalKind.TOOL_CALL or approval.digest is None:
        if arguments is not None:
            raise ApprovalError("only a tool approval's arguments can be edited")
        if digest is not None:
            raise StaleRequest(
                f"approval {approval.id} carries no digest (it is not a tool call), so a "
                "decision cannot name one; decide without --digest"
            )
        return Bound(None)
    if digest is not None and digest != approval.digest:
        raise StaleRequest(
            f"the request changed since you saw it: you saw {digest[:12]}…, the call pending "
            f"now is {approval.digest[:12]}…; look again (agentworker approvals show "
            f"{approval.id}) and decide on what it asks now"
        )
    if arguments is None:
        return Bound(approval.digest)
    if decision != "approve":
        raise ApprovalError("edited arguments can only be approved; reject without them")
    tool = str(approval.payload.get("tool", ""))
    check_edited_arguments(tool, approval.arguments_schema, arguments)
    return Bound(tool_call_digest(tool, arguments), dict(arguments))


def cast_vote(
    connection: sa.Connection,
    approval: sa.Row[Any],
    decider: Decider,
    principal: Principal,
    decision: Decision,
    bound: Bound,
    comment: str | None,
) -> Tally:
    """Record the vote (``DuplicateVote`` if this approver voted already), move the pending
    call to an edited one, and count the votes toward the approval's quorum."""
    earlier = connection.execute(
        sa.select(_votes.c.decision, _votes.c.created_at).where(
            _votes.c.approval_id == approval.id, _votes.c.user_id == decider.user_id
        )
    ).one_or_none()
    if earlier is not None:
        raise DuplicateVote(
            f"{decider.email} already voted to {earlier.decision} this approval at "
            f"{earlier.created_at:%Y-%m-%d %H:%M:%S %Z}; it needs {approval.quorum} distinct "
            "approvers, and one person counts once"
        )
    fields = principal.audit_fields()
    connection.execute(
        sa.insert(_votes).values(
            tenant_id=approval.tenant_id,
            approval_id=approval.id,
            user_id=decider.user_id,
            approver=decider.email,
            decision=VoteDecision(decision),
            principal_kind=principal.kind.value,
            principal=(principal.label or principal.kind.value)[:255],
            key_id=principal.key_id,
            os_user=fields["os_user"],
            digest=bound.digest,
            arguments=bound.arguments,
            comment=comment,
        )
    )
    if bound.edited and bound.digest != approval.digest:
        # The edited call is what is pending now; what was approved before no longer counts.
        connection.execute(
            sa.update(_approvals)
            .where(_approvals.c.id == approval.id, _approvals.c.status == ApprovalStatus.PENDING)
            .values(digest=bound.digest, approved_arguments=bound.arguments)
        )
    return tally(connection, approval.id, bound.digest, approval.quorum, approval.rejections_needed)


def tally(
    connection: sa.Connection,
    approval_id: uuid.UUID,
    digest: str | None,
    quorum: int,
    rejections_needed: int,
) -> Tally:
    """The approvals of ``digest`` and the rejections so far, and what they decide."""
    approve = _votes.c.decision == VoteDecision.APPROVE
    row = connection.execute(
        sa.select(
            sa.func.count().filter(approve, _votes.c.digest.is_not_distinct_from(digest)),
            sa.func.count().filter(_votes.c.decision == VoteDecision.REJECT),
        ).where(_votes.c.approval_id == approval_id)
    ).one()
    approvals, rejections = int(row[0]), int(row[1])
    outcome = None
    if rejections >= rejections_needed:
        outcome = ApprovalStatus.REJECTED
    elif approvals >= quorum:
        outcome = ApprovalStatus.APPROVED
    return Tally(approvals, rejections, outcome)
