"""Human-in-the-loop approvals (seed 000 approval.py).

A decision is one conditional UPDATE ``… WHERE status = 'pending'`` (``worker.approvals``):
the first decision wins. The CHECKs keep a decided row consistent and every approval tied to what
it gates.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, TenantOwned, Timestamps, UUIDPrimaryKey, fk, text_enum
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
