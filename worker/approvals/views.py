"""Reading approvals: the frozen view the CLI, the client and the inbox show, one by id or a
queue of them, oldest first.

A view carries names a person reads (tenant slug, workflow, agent, who decided) beside the
ids, and how long the approval has waited, computed by the database clock.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased

from models import (
    AgentRun,
    AIWorkflow,
    AIWorkflowExecution,
    Approval,
    ApprovalDecision,
    ApprovalKind,
    ApprovalStatus,
    MembershipRole,
    Tenant,
    User,
)
from worker.approvals.errors import ApprovalNotFound, approval_uuid
from worker.security.redact import redact

_approvals = Approval.__table__
_votes = ApprovalDecision.__table__
_decider = aliased(User)


@dataclass(frozen=True)
class VoteView:
    """One approver's vote, and the principal it came through."""

    approver: str
    decision: str
    principal_kind: str
    principal: str
    os_user: str | None
    digest: str | None
    edited: bool
    comment: str | None
    created_at: datetime


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
    #: Distinct approvers needed, and rejections that reject; the votes so far, oldest first.
    quorum: int = 1
    rejections_needed: int = 1
    votes: tuple[VoteView, ...] = ()
    #: A tool approval: the digest of the call pending now (what a decision names), the
    #: arguments an approver edited (None: the model's, in ``payload``), what was approved.
    digest: str | None = None
    edited_arguments: dict[str, Any] | None = None
    approved_digest: str | None = None
    decided_by_principal: dict[str, Any] | None = None

    @property
    def arguments(self) -> Any:
        """The arguments pending now (or approved): an approver's edit, else the model's."""
        if self.edited_arguments is not None:
            return redact(self.edited_arguments)
        return self.payload.get("arguments")


def get_approval(engine: sa.Engine, approval_id: uuid.UUID | str) -> ApprovalView:
    approval_id = approval_uuid(approval_id)
    with engine.connect() as connection:
        row = connection.execute(_view_query().where(_approvals.c.id == approval_id)).one_or_none()
        votes = _votes_of(connection, [approval_id])
    if row is None:
        raise ApprovalNotFound(f"no approval {approval_id}")
    return _view(row, votes.get(row.id, ()))


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
        votes = _votes_of(connection, [row.id for row in rows])
    return [_view(row, votes.get(row.id, ())) for row in rows]


def _votes_of(
    connection: sa.Connection, approval_ids: list[uuid.UUID]
) -> dict[uuid.UUID, tuple[VoteView, ...]]:
    if not approval_ids:
        return {}
    found: dict[uuid.UUID, list[VoteView]] = {}
    for row in connection.execute(
        sa.select(_votes)
        .where(_votes.c.approval_id.in_(approval_ids))
        .order_by(_votes.c.created_at, _votes.c.id)
    ):
        found.setdefault(row.approval_id, []).append(
            VoteView(
                approver=row.approver,
                decision=str(row.decision),
                principal_kind=row.principal_kind,
                principal=row.principal,
                os_user=row.os_user,
                digest=row.digest,
                edited=row.arguments is not None,
                comment=row.comment,
                created_at=row.created_at,
            )
        )
    return {key: tuple(value) for key, value in found.items()}


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


def _view(row: sa.Row[Any], votes: tuple[VoteView, ...]) -> ApprovalView:
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
        quorum=row.quorum,
        rejections_needed=row.rejections_needed,
        votes=votes,
        digest=row.digest,
        edited_arguments=row.approved_arguments,
        approved_digest=row.approved_digest,
        decided_by_principal=row.decided_by_principal,
    )
