"""Deciding an approval (DESIGN §4-5): approve or reject, through a verified principal.

One transaction does all of it: the approval row is locked ``FOR UPDATE`` (votes on it queue),
the principal and the approver it names are checked against the approval's tenant and role
with the user and membership rows locked ``FOR SHARE`` (``worker.approvals.deciders``), the
vote is bound to the digest the approver was shown and recorded (``worker.approvals.votes``),
and, when it meets the quorum, the approval moves with the guarded UPDATE
(``… WHERE status = 'pending'`` and not past its expiry), is audited and wakes what it gates,
once. A refused attempt (who decides, a stale digest, invalid edited arguments, a second vote)
is rolled back and then audited in a transaction of its own, with the principal it came through.
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from models import Approval, ApprovalStatus, User
from worker.approvals.deciders import Refused, verify_decider
from worker.approvals.errors import (
    AlreadyDecided,
    ApprovalError,
    ApprovalNotFound,
    DuplicateVote,
    InvalidEditedArguments,
    NotAllowed,
    StaleRequest,
    approval_uuid,
)
from worker.approvals.outcomes import audit, record_and_wake
from worker.approvals.views import ApprovalView, get_approval
from worker.approvals.votes import Decision, bind, cast_vote
from worker.durable import faults
from worker.durable.publishing import Publisher, Wake
from worker.durable.states import APPROVAL
from worker.security.principals import Principal

_approvals = Approval.__table__

__all__ = ["Decision", "resolve"]

#: Refusals audited here, after the rollback; the others (no such approval, already decided)
#: are the caller's to report.
_AUDITED = (NotAllowed, StaleRequest, InvalidEditedArguments, DuplicateVote)


class _Rejected(Exception):
    def __init__(self, approval: sa.Row[Any], user_id: uuid.UUID | None, error: ApprovalError):
        self.approval, self.user_id, self.error = approval, user_id, error


def resolve(
    engine: sa.Engine,
    publisher: Publisher,
    approval_id: uuid.UUID | str,
    decision: Decision,
    user: str | None = None,
    comment: str | None = None,
    *,
    principal: Principal | None,
    digest: str | None = None,
    arguments: dict[str, Any] | None = None,
) -> ApprovalView:
    """Vote on a pending approval through ``principal`` as the approver ``user`` names (email
    or id; a USER principal may omit it). For a tool approval, ``digest`` is the one the
    approver was shown and ``arguments`` an edit of the call's arguments. The vote that meets
    the quorum decides."""
    if decision not in ("approve", "reject"):
        raise ApprovalError(f"decision must be 'approve' or 'reject', not {decision!r}")
    approval_id = approval_uuid(approval_id)
    try:
        with engine.begin() as connection:
            wakes = _vote(
                connection, approval_id, decision, user, comment, principal, digest, arguments
            )
    except _Rejected as rejected:
        with engine.begin() as connection:  # the refusal is audited though nothing changed
            audit(
                connection,
                rejected.approval,
                rejected.user_id,
                user or _describe(principal),
                "approval.refused",
                {
                    "attempted": decision,
                    "code": rejected.error.code,
                    "reason": str(rejected.error),
                    "digest": digest,
                },
                principal=principal,
            )
        rejected.error.audited = True
        raise rejected.error from None
    for wake in wakes:
        faults.fault_point(faults.AFTER_DECISION_COMMITTED)
        wake.send(publisher)
    return get_approval(engine, approval_id)


def _vote(
    connection: sa.Connection,
    approval_id: uuid.UUID,
    decision: Decision,
    user: str | None,
    comment: str | None,
    principal: Principal | None,
    digest: str | None,
    arguments: dict[str, Any] | None,
) -> list[Wake]:
    approval = connection.execute(
        sa.select(_approvals, (sa.func.now() >= _approvals.c.expires_at).label("expired"))
        .where(_approvals.c.id == approval_id)
        .with_for_update(of=_approvals)
    ).one_or_none()
    if approval is None:
        raise ApprovalNotFound(f"no approval {approval_id}")
    try:
        if principal is None:
            raise Refused("the decision came through no verified principal; it is not taken")
        decider = verify_decider(connection, approval, principal, user)
    except Refused as refused:
        raise _Rejected(approval, refused.user_id, NotAllowed(refused.reason)) from None
    if approval.status != ApprovalStatus.PENDING or approval.expired:
        raise AlreadyDecided(_already(connection, approval_id))
    try:
        bound = bind(approval, decision, digest, arguments)
        counted = cast_vote(connection, approval, decider, principal, decision, bound, comment)
    except _AUDITED as error:
        raise _Rejected(approval, decider.user_id, error) from None
    votes = {"approvals": counted.approvals, "rejections": counted.rejections}
    needed = {"quorum": approval.quorum, "rejections_needed": approval.rejections_needed}
    changes: dict[str, Any] = {"decision": decision, "comment": comment, "votes": votes, **needed}
    if bound.digest is not None:
        changes.update(digest=bound.digest, digest_checked=digest is not None)
    if bound.edited:
        changes.update(edited_from=approval.digest, arguments=bound.arguments)
    if counted.outcome is None:
        audit(
            connection,
            approval,
            decider.user_id,
            decider.email,
            "approval.voted",
            changes,
            principal=principal,
        )
        return []
    target = counted.outcome
    values: dict[str, Any] = {
        "decided_by_user_id": decider.user_id,
        "decided_at": sa.func.now(),
        "decision_comment": comment,
        "decided_by_principal": principal.audit_fields(),
    }
    if target == ApprovalStatus.APPROVED and bound.digest is not None:
        values["approved_digest"] = bound.digest
    moved = APPROVAL.apply(
        connection,
        approval_id,
        target,
        sources=[ApprovalStatus.PENDING],
        where=[sa.or_(_approvals.c.expires_at.is_(None), _approvals.c.expires_at > sa.func.now())],
        values=values,
    )
    if moved is None:  # cannot happen under the row lock; the guard stays the rule
        raise AlreadyDecided(_already(connection, approval_id))
    changes["status"] = ["pending", target.value]
    audit(
        connection,
        approval,
        decider.user_id,
        decider.email,
        f"approval.{target.value}",
        changes,
        principal=principal,
    )
    return record_and_wake(
        connection, approval, target, f"{target.value} by {decider.email}", comment
    )


def _describe(principal: Principal | None) -> str:
    if principal is None:
        return "unauthenticated"
    return principal.label or principal.kind.value


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
