"""Human-in-the-loop approvals (DESIGN §4-5).

A request writes the approval, an APPROVAL_REQUESTED event and an in-app ai_communications
message for every eligible approver of the tenant. A decision is one conditional UPDATE
(``… WHERE status = 'pending'``): the first decision wins and the others are told who decided
and when. Each decision (and each refused attempt) is written to audit_logs; a decision in the
same transaction as the change. What the approval gates is woken after commit: a workflow's
``workflows.advance`` or the agent run's ``agents.run_task``. The reaper covers a crash in
between. While an approval is pending, nothing runs for it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import aliased

from models import (
    AgentRun,
    AICommunication,
    AIWorkflow,
    AIWorkflowExecution,
    Approval,
    ApprovalKind,
    ApprovalStatus,
    AuditLog,
    CommunicationType,
    DeliveryStatus,
    EventType,
    MembershipRole,
    RecipientType,
    TaskStatus,
    Tenant,
    TenantMembership,
    User,
)
from worker.core.contract import ADVANCE_WORKFLOW, RUN_TASK
from worker.core.errors import AgentWorkerError
from worker.durable import records
from worker.durable.publishing import Publisher, Wake
from worker.durable.states import APPROVAL, TASK

ROLE_RANK = {
    MembershipRole.MEMBER: 0,
    MembershipRole.APPROVER: 1,
    MembershipRole.ADMIN: 2,
    MembershipRole.OWNER: 3,
}
_approvals = Approval.__table__

Decision = Literal["approve", "reject"]


class ApprovalError(AgentWorkerError):
    code = "approval_error"


class ApprovalNotFound(ApprovalError):
    code = "approval_not_found"


class NotAllowed(ApprovalError):
    code = "not_allowed"


class AlreadyDecided(ApprovalError):
    code = "already_decided"


@dataclass(frozen=True)
class ApprovalView:
    id: uuid.UUID
    tenant: str
    status: ApprovalStatus
    kind: ApprovalKind
    title: str
    description: str | None
    payload: dict[str, Any]
    required_role: MembershipRole
    requested_by: str | None
    task_id: uuid.UUID | None
    workflow_execution_id: uuid.UUID | None
    workflow: str | None
    agent_run_id: uuid.UUID | None
    agent: str | None
    step_key: str | None
    created_at: datetime
    expires_at: datetime | None
    decided_at: datetime | None
    decided_by: str | None
    decision_comment: str | None
    age_seconds: float


def request_approval(
    connection: sa.Connection,
    *,
    tenant_id: uuid.UUID,
    kind: ApprovalKind,
    title: str,
    payload: dict[str, Any],
    scope: records.Scope,
    description: str | None = None,
    step_key: str | None = None,
    tool_call_id: str | None = None,
    requested_by: str | None = None,
    required_role: MembershipRole = MembershipRole.APPROVER,
    expires_at: datetime | None = None,
    policy: dict[str, Any] | None = None,
) -> tuple[uuid.UUID, bool]:
    """Create the approval once (per workflow step, or per tool call); (id, created)."""
    values = {
        "tenant_id": tenant_id,
        "kind": kind,
        "title": title,
        "description": description,
        "payload": records.scrub(payload),
        "task_id": scope.task_id,
        "workflow_execution_id": scope.workflow_execution_id,
        "agent_run_id": scope.agent_run_id,
        "step_key": step_key,
        "tool_call_id": tool_call_id,
        "requested_by": requested_by,
        "required_role": required_role,
        "expires_at": expires_at,
        "policy": policy or {},
    }
    created = connection.execute(
        pg_insert(_approvals).values(values).on_conflict_do_nothing().returning(_approvals.c.id)
    ).scalar_one_or_none()
    if created is None:
        existing = connection.execute(
            sa.select(_approvals.c.id).where(
                sa.or_(
                    sa.and_(
                        _approvals.c.workflow_execution_id == scope.workflow_execution_id,
                        _approvals.c.step_key == step_key,
                    ),
                    sa.and_(
                        _approvals.c.agent_run_id == scope.agent_run_id,
                        _approvals.c.tool_call_id == tool_call_id,
                    ),
                )
            )
        ).scalar_one()
        return existing, False
    records.write(
        connection,
        events=[
            records.event(
                scope,
                EventType.APPROVAL_REQUESTED,
                title,
                {
                    "approval_id": str(created),
                    "kind": kind.value,
                    "required_role": required_role.value,
                    "expires_at": expires_at.isoformat() if expires_at else None,
                },
            )
        ],
    )
    _notify_approvers(connection, tenant_id, created, title, required_role, scope.agent_id)
    return created, True


def eligible_approvers(
    connection: sa.Connection, tenant_id: uuid.UUID, required_role: MembershipRole
) -> list[sa.Row[Any]]:
    allowed = [role for role, rank in ROLE_RANK.items() if rank >= ROLE_RANK[required_role]]
    return list(
        connection.execute(
            sa.select(User.id, User.email)
            .join(TenantMembership, TenantMembership.user_id == User.id)
            .where(
                TenantMembership.tenant_id == tenant_id,
                TenantMembership.role.in_(allowed),
                User.is_active.is_(True),
            )
            .order_by(User.email)
        ).all()
    )


def _notify_approvers(
    connection: sa.Connection,
    tenant_id: uuid.UUID,
    approval_id: uuid.UUID,
    title: str,
    required_role: MembershipRole,
    agent_id: uuid.UUID | None,
) -> None:
    rows = [
        {
            "tenant_id": tenant_id,
            "communication_type": CommunicationType.IN_APP_MESSAGE,
            "recipient_id": user.id,
            "recipient_type": RecipientType.USER,
            "subject": f"Approval needed: {title}",
            "content": f"'{title}' waits for your decision: agentworker approvals show "
            f"{approval_id}",
            "personalization_data": {"approval_id": str(approval_id)},
            "delivery_status": DeliveryStatus.SENT,
            "sent_at": records.now(),
            "generated_by_agent_id": agent_id,
        }
        for user in eligible_approvers(connection, tenant_id, required_role)
    ]
    if rows:
        connection.execute(sa.insert(AICommunication.__table__), rows)


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
    approval_id = _approval_uuid(approval_id)
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
            _audit(
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
        _audit(
            connection,
            approval,
            actor,
            user,
            f"approval.{target.value}",
            {"status": ["pending", target.value], "comment": comment},
        )
        wakes = _record_and_wake(connection, approval, target, f"{target.value} by {user}", comment)
    for wake in wakes:
        wake.send(publisher)
    return get_approval(engine, approval_id)


def expire_due(engine: sa.Engine, publisher: Publisher, *, limit: int = 500) -> int:
    """Expire pending approvals past their expiry; their gates apply ``on_timeout``."""
    wakes: list[Wake] = []
    with engine.begin() as connection:
        expired = connection.execute(
            sa.update(_approvals)
            .where(
                _approvals.c.id.in_(
                    sa.select(_approvals.c.id)
                    .where(
                        _approvals.c.status == ApprovalStatus.PENDING,
                        _approvals.c.expires_at <= sa.func.now(),
                    )
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            )
            .values(status=ApprovalStatus.EXPIRED, decided_at=sa.func.now())
            .returning(*_approvals.c)
        ).all()
        for approval in expired:
            _audit(
                connection,
                approval,
                None,
                "system",
                "approval.expired",
                {"status": ["pending", "expired"]},
            )
            wakes += _record_and_wake(
                connection, approval, ApprovalStatus.EXPIRED, "expired without a decision", None
            )
    for wake in wakes:
        wake.send(publisher)
    return len(expired)


def cancel_pending(
    connection: sa.Connection,
    *,
    task_id: uuid.UUID | None = None,
    execution_id: uuid.UUID | None = None,
    reason: str,
) -> int:
    if task_id is None and execution_id is None:
        raise ValueError("cancel_pending needs a task or an execution")
    target = (
        _approvals.c.task_id == task_id
        if task_id is not None
        else _approvals.c.workflow_execution_id == execution_id
    )
    result = connection.execute(
        sa.update(_approvals)
        .where(target, _approvals.c.status == ApprovalStatus.PENDING)
        .values(status=ApprovalStatus.CANCELLED, decided_at=sa.func.now(), decision_comment=reason)
    )
    return int(result.rowcount or 0)


def _record_and_wake(
    connection: sa.Connection,
    approval: sa.Row[Any],
    status: ApprovalStatus,
    what: str,
    comment: str | None,
) -> list[Wake]:
    scope = records.Scope(
        tenant_id=approval.tenant_id,
        task_id=approval.task_id,
        agent_run_id=approval.agent_run_id,
        workflow_execution_id=approval.workflow_execution_id,
    )
    records.write(
        connection,
        events=[
            records.event(
                scope,
                EventType.APPROVAL_RESOLVED,
                f"'{approval.title}' {what}",
                {"approval_id": str(approval.id), "status": status.value, "comment": comment},
            )
        ],
    )
    if approval.kind == ApprovalKind.TOOL_CALL and approval.task_id is not None:
        woken = TASK.apply(
            connection, approval.task_id, TaskStatus.PENDING, sources=[TaskStatus.AWAITING_APPROVAL]
        )
        return [Wake(RUN_TASK, {"task_id": str(approval.task_id)})] if woken else []
    if approval.workflow_execution_id is not None:
        return [Wake(ADVANCE_WORKFLOW, {"execution_id": str(approval.workflow_execution_id)})]
    return []


def _refusal(
    connection: sa.Connection, approval: sa.Row[Any], actor: sa.Row[Any] | None, user: str
) -> str | None:
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
    if ROLE_RANK[MembershipRole(role)] < ROLE_RANK[required]:
        return (
            f"{actor.email} is '{role}' in tenant '{tenant}'; deciding this approval needs "
            f"'{required.value}' or above"
        )
    return None


def _already(connection: sa.Connection, approval_id: uuid.UUID) -> str:
    row = connection.execute(
        sa.select(_approvals.c.status, _approvals.c.decided_at, _approvals.c.expires_at, User.email)
        .outerjoin(User, User.id == _approvals.c.decided_by_user_id)
        .where(_approvals.c.id == approval_id)
    ).one()
    if row.status == ApprovalStatus.PENDING:  # pending but past its expiry
        return f"approval {approval_id} expired at {row.expires_at:%Y-%m-%d %H:%M:%S %Z}"
    who = f" by {row.email}" if row.email else ""
    return f"already {row.status}{who} at {row.decided_at:%Y-%m-%d %H:%M:%S %Z}"


def _audit(
    connection: sa.Connection,
    approval: sa.Row[Any],
    actor: sa.Row[Any] | None,
    user: str,
    action: str,
    changes: dict[str, Any],
) -> None:
    connection.execute(
        sa.insert(AuditLog.__table__).values(
            tenant_id=approval.tenant_id,
            user_id=actor.id if actor is not None else None,
            actor=user,
            action=action,
            resource_type="approval",
            resource_id=str(approval.id),
            changes=records.scrub(changes),
            metadata={"title": approval.title, "kind": str(approval.kind)},
        )
    )


def _find_user(connection: sa.Connection, user: str) -> sa.Row[Any] | None:
    try:
        condition = User.id == uuid.UUID(user)
    except ValueError:
        condition = sa.func.lower(User.email) == user.lower()
    return connection.execute(sa.select(User.id, User.email).where(condition)).one_or_none()


def _approval_uuid(value: uuid.UUID | str) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(value)
    except ValueError:
        raise ApprovalNotFound(f"'{value}' is not an approval id (a UUID)") from None


# -- reading -----------------------------------------------------------------------------------

_decider = aliased(User)


def _view_query() -> sa.Select[Any]:
    return (
        sa.select(
            _approvals,
            Tenant.slug.label("tenant"),
            AIWorkflow.name.label("workflow"),
            AgentRun.agent_name.label("agent"),
            _decider.email.label("decided_by"),
            sa.func.extract("epoch", sa.func.now() - _approvals.c.created_at).label("age"),
        )
        .join(Tenant, Tenant.id == _approvals.c.tenant_id)
        .outerjoin(
            AIWorkflowExecution, AIWorkflowExecution.id == _approvals.c.workflow_execution_id
        )
        .outerjoin(AIWorkflow, AIWorkflow.id == AIWorkflowExecution.workflow_id)
        .outerjoin(AgentRun, AgentRun.id == _approvals.c.agent_run_id)
        .outerjoin(_decider, _decider.id == _approvals.c.decided_by_user_id)
    )


def _view(row: sa.Row[Any]) -> ApprovalView:
    return ApprovalView(
        id=row.id,
        tenant=row.tenant,
        status=ApprovalStatus(row.status),
        kind=ApprovalKind(row.kind),
        title=row.title,
        description=row.description,
        payload=row.payload,
        required_role=MembershipRole(row.required_role),
        requested_by=row.requested_by,
        task_id=row.task_id,
        workflow_execution_id=row.workflow_execution_id,
        workflow=row.workflow,
        agent_run_id=row.agent_run_id,
        agent=row.agent,
        step_key=row.step_key,
        created_at=row.created_at,
        expires_at=row.expires_at,
        decided_at=row.decided_at,
        decided_by=row.decided_by,
        decision_comment=row.decision_comment,
        age_seconds=float(row.age),
    )


def get_approval(engine: sa.Engine, approval_id: uuid.UUID | str) -> ApprovalView:
    approval_id = _approval_uuid(approval_id)
    with engine.connect() as connection:
        row = connection.execute(_view_query().where(_approvals.c.id == approval_id)).one_or_none()
    if row is None:
        raise ApprovalNotFound(f"no approval {approval_id}")
    return _view(row)


def list_approvals(
    engine: sa.Engine,
    *,
    tenant: str | None = None,
    statuses: Sequence[ApprovalStatus] = (ApprovalStatus.PENDING,),
    limit: int = 100,
) -> list[ApprovalView]:
    """Oldest first, so what has waited longest is on top."""
    query = _view_query().where(_approvals.c.status.in_(list(statuses)))
    if tenant is not None:
        try:
            query = query.where(_approvals.c.tenant_id == uuid.UUID(tenant))
        except ValueError:
            # A subquery, so the planner walks the (tenant, status, created_at) index and stops
            # at `limit` instead of joining every pending approval of the tenant first.
            query = query.where(
                _approvals.c.tenant_id
                == sa.select(Tenant.id).where(Tenant.slug == tenant).scalar_subquery()
            )
    with engine.connect() as connection:
        rows = connection.execute(query.order_by(_approvals.c.created_at).limit(limit)).all()
    return [_view(row) for row in rows]
