"""Human-in-the-loop approvals (seed 000 approval.py), and the votes cast on them.

Each vote is an ``approval_decisions`` row (one per approver); the approval leaves PENDING by one
conditional UPDATE ``… WHERE status = 'pending'`` (``worker.approvals``) in the transaction of
the vote that meets its quorum. The CHECKs keep a decided row consistent and every approval tied
to what it gates. A tool approval carries the digest of the call it asks about
(``worker.approvals.digests``), and once approved the digest (and the arguments, when an
approver edited them) of what may run.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import (
    Base,
    CreatedAt,
    TenantOwned,
    Timestamps,
    UUIDPrimaryKey,
    fk,
    text_enum,
)
from models.principals import PrincipalKind
from models.tenancy import MembershipRole


class ApprovalStatus(enum.StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    CANCELLED = "cancelled"


class ApprovalKind(enum.StrEnum):
    WORKFLOW_STEP = "workflow_step"
    TOOL_CALL = "tool_call"
    #: A run or tenant reached a budget configured to ask for more (worker.agents.budget_grants).
    BUDGET_GRANT = "budget_grant"


class VoteDecision(enum.StrEnum):
    APPROVE = "approve"
    REJECT = "reject"


class Approval(UUIDPrimaryKey, TenantOwned, Timestamps, Base):
    __tablename__ = "approvals"
    __table_args__ = (
        CheckConstraint(
            "num_nonnulls(task_id, workflow_execution_id, agent_run_id) > 0",
            name="gates_something",
        ),
        CheckConstraint(
            "(status = 'pending') = (decided_at IS NULL)", name="decided_iff_not_pending"
        ),
        CheckConstraint("quorum >= 1 AND rejections_needed >= 1", name="quorum_positive"),
        CheckConstraint(
            "approved_digest IS NULL OR status = 'approved'", name="approved_digest_iff_approved"
        ),
        UniqueConstraint("workflow_execution_id", "step_key", "step_attempt"),
        UniqueConstraint("agent_run_id", "tool_call_id"),
        Index("ix_approvals_tenant_id_status_created_at", "tenant_id", "status", "created_at"),
        Index(
            "ix_approvals_pending_expires_at",
            "expires_at",
            postgresql_where=text("status = 'pending' AND expires_at IS NOT NULL"),
        ),
    )

    kind: Mapped[ApprovalKind] = mapped_column(text_enum(ApprovalKind, "approval_kind"))
    status: Mapped[ApprovalStatus] = mapped_column(
        text_enum(ApprovalStatus, "approval_status"),
        default=ApprovalStatus.PENDING,
        server_default=ApprovalStatus.PENDING.value,
    )
    title: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(
        default=dict, server_default=text("'{}'::jsonb")
    )

    task_id: Mapped[uuid.UUID | None] = fk("tasks.id", ondelete="CASCADE", nullable=True)
    workflow_execution_id: Mapped[uuid.UUID | None] = fk(
        "ai_workflow_executions.id", ondelete="CASCADE", nullable=True
    )
    agent_run_id: Mapped[uuid.UUID | None] = fk("agent_runs.id", ondelete="CASCADE", nullable=True)
    step_key: Mapped[str | None] = mapped_column(String(200))
    #: The attempt of the step this approval gates: a gate asked again is a new approval.
    step_attempt: Mapped[int | None] = mapped_column(Integer)
    tool_call_id: Mapped[str | None] = mapped_column(String(200))

    requested_by: Mapped[str | None] = mapped_column(String(200))
    requested_by_user_id: Mapped[uuid.UUID | None] = fk(
        "users.id", ondelete="SET NULL", nullable=True
    )
    required_role: Mapped[MembershipRole] = mapped_column(
        text_enum(MembershipRole, "required_role"),
        default=MembershipRole.APPROVER,
        server_default=MembershipRole.APPROVER.value,
    )
    policy: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default=text("'{}'::jsonb"))
    expires_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]
    decided_by_user_id: Mapped[uuid.UUID | None] = fk(
        "users.id", ondelete="SET NULL", nullable=True
    )
    decision_comment: Mapped[str | None] = mapped_column(Text)
    #: The principal of the deciding vote (``Principal.audit_fields()``).
    decided_by_principal: Mapped[dict[str, Any] | None]

    #: How many distinct approvers must approve, and how many rejections reject.
    quorum: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))
    rejections_needed: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))
    #: A tool approval: SHA-256 of the call pending now (the model's, or an approver's edit).
    digest: Mapped[str | None] = mapped_column(String(64))
    #: The tool's JSON Schema, that edited arguments are validated against.
    arguments_schema: Mapped[dict[str, Any] | None]
    #: Arguments an approver edited (what runs once approved); NULL: the model's own.
    approved_arguments: Mapped[dict[str, Any] | None]
    #: The digest that was approved: only a call with this digest runs.
    approved_digest: Mapped[str | None] = mapped_column(String(64))


class ApprovalDecision(UUIDPrimaryKey, TenantOwned, CreatedAt, Base):
    """One approver's vote on an approval, and the verified principal it came through."""

    __tablename__ = "approval_decisions"
    __table_args__ = (UniqueConstraint("approval_id", "user_id"),)

    approval_id: Mapped[uuid.UUID] = fk("approvals.id", ondelete="CASCADE", nullable=False)
    user_id: Mapped[uuid.UUID | None] = fk("users.id", ondelete="SET NULL", nullable=True)
    #: The approver as named (email), kept if the user is deleted.
    approver: Mapped[str] = mapped_column(String(320))
    decision: Mapped[VoteDecision] = mapped_column(text_enum(VoteDecision, "vote_decision"))
    principal_kind: Mapped[PrincipalKind] = mapped_column(
        text_enum(PrincipalKind, "principal_kind")
    )
    principal: Mapped[str] = mapped_column(String(255), default="", server_default="")
    key_id: Mapped[uuid.UUID | None]
    os_user: Mapped[str | None] = mapped_column(String(255))
    #: The digest this vote approved or rejected (a tool approval).
    digest: Mapped[str | None] = mapped_column(String(64))
    #: The arguments this vote approved, when the approver edited them.
    arguments: Mapped[dict[str, Any] | None]
    comment: Mapped[str | None] = mapped_column(Text)
