"""Workflow definitions, their pinned versions, executions and per-step state (seed 001).

Seed 001's execution status CHECK (running, completed, failed, cancelled) is extended with
``pending`` and ``awaiting_approval`` for DESIGN §4's state machine; its workflow_type CHECK is
extended with ``event_planning`` for the Conference Planning Crew (seed 000).
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import (
    NO_IMPLICIT_IO,
    Base,
    CreatedAt,
    TenantOrShared,
    TenantOwned,
    Timestamps,
    UUIDPrimaryKey,
    fk,
    text_enum,
)


class WorkflowType(enum.StrEnum):
    CONTENT_GENERATION = "content_generation"
    ATTENDEE_PERSONALIZATION = "attendee_personalization"
    SPONSOR_MANAGEMENT = "sponsor_management"
    REAL_TIME_OPERATIONS = "real_time_operations"
    ANALYTICS_INSIGHTS = "analytics_insights"
    PREDICTIVE_MAINTENANCE = "predictive_maintenance"
    EVENT_PLANNING = "event_planning"


class WorkflowStatus(enum.StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    PAUSED = "paused"
    ARCHIVED = "archived"


class ExecutionStatus(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    AWAITING_APPROVAL = "awaiting_approval"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


class StepRunStatus(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    AWAITING_APPROVAL = "awaiting_approval"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


_EMPTY_OBJECT = text("'{}'::jsonb")
_EMPTY_LIST = text("'[]'::jsonb")


class AIWorkflow(UUIDPrimaryKey, TenantOrShared, Timestamps, Base):
    """A workflow definition. NULL tenant: a system-wide template. ``version`` increases on
    every change of ``steps``; each version is frozen in ``ai_workflow_versions``."""

    __tablename__ = "ai_workflows"
    __table_args__ = (UniqueConstraint("tenant_id", "name", postgresql_nulls_not_distinct=True),)

    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    workflow_type: Mapped[WorkflowType] = mapped_column(text_enum(WorkflowType, "workflow_type"))
    status: Mapped[WorkflowStatus] = mapped_column(
        text_enum(WorkflowStatus, "workflow_status"),
        default=WorkflowStatus.DRAFT,
        server_default=WorkflowStatus.DRAFT.value,
    )
    configuration: Mapped[dict[str, Any]] = mapped_column(
        default=dict, server_default=_EMPTY_OBJECT
    )
    steps: Mapped[list[Any]] = mapped_column(default=list, server_default=_EMPTY_LIST)
    triggers: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default=_EMPTY_OBJECT)
    version: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))

    versions: Mapped[list[AIWorkflowVersion]] = relationship(
        back_populates="workflow",
        cascade="all, delete-orphan",
        passive_deletes=True,
        order_by="AIWorkflowVersion.version",
        lazy=NO_IMPLICIT_IO,
    )
    executions: Mapped[list[AIWorkflowExecution]] = relationship(
        back_populates="workflow",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy=NO_IMPLICIT_IO,
    )


class AIWorkflowVersion(UUIDPrimaryKey, TenantOrShared, CreatedAt, Base):
    """A frozen copy of a workflow's steps; executions pin one, so edits never reach them."""

    __tablename__ = "ai_workflow_versions"
    __table_args__ = (UniqueConstraint("workflow_id", "version"),)

    workflow_id: Mapped[uuid.UUID] = fk("ai_workflows.id", ondelete="CASCADE", nullable=False)
    version: Mapped[int] = mapped_column(Integer)
    steps: Mapped[list[Any]] = mapped_column(default=list, server_default=_EMPTY_LIST)
    configuration: Mapped[dict[str, Any]] = mapped_column(
        default=dict, server_default=_EMPTY_OBJECT
    )

    workflow: Mapped[AIWorkflow] = relationship(back_populates="versions", lazy=NO_IMPLICIT_IO)


class AIWorkflowExecution(UUIDPrimaryKey, TenantOwned, Timestamps, Base):
    __tablename__ = "ai_workflow_executions"
    __table_args__ = (
        UniqueConstraint("tenant_id", "idempotency_key"),
        Index("ix_ai_workflow_executions_status_updated_at", "status", "updated_at"),
    )

    workflow_id: Mapped[uuid.UUID] = fk("ai_workflows.id", ondelete="CASCADE", nullable=False)
    workflow_version_id: Mapped[uuid.UUID] = fk(
        "ai_workflow_versions.id", ondelete="CASCADE", nullable=False
    )
    workflow_version: Mapped[int] = mapped_column(Integer)
    event_id: Mapped[uuid.UUID | None] = fk("events.id", ondelete="CASCADE", nullable=True)
    status: Mapped[ExecutionStatus] = mapped_column(
        text_enum(ExecutionStatus, "execution_status"),
        default=ExecutionStatus.PENDING,
        server_default=ExecutionStatus.PENDING.value,
        index=True,
    )
    started_at: Mapped[datetime] = mapped_column(server_default=func.now())
    completed_at: Mapped[datetime | None]
    input_data: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default=_EMPTY_OBJECT)
    output_data: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default=_EMPTY_OBJECT)
    error_log: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default=_EMPTY_OBJECT)
    performance_metrics: Mapped[dict[str, Any]] = mapped_column(
        default=dict, server_default=_EMPTY_OBJECT
    )
    current_step: Mapped[str | None] = mapped_column(String(200))
    step_states: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default=_EMPTY_OBJECT)
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    lease_owner: Mapped[str | None] = mapped_column(String(255))
    lease_expires_at: Mapped[datetime | None]
    #: A fork: the execution this one re-runs from step ``forked_at_step`` (a step key), with
    #: the earlier steps' outputs copied from it (migration 0019).
    parent_execution_id: Mapped[uuid.UUID | None] = fk(
        "ai_workflow_executions.id", ondelete="SET NULL", nullable=True
    )
    forked_at_step: Mapped[str | None] = mapped_column(String(200))

    workflow: Mapped[AIWorkflow] = relationship(back_populates="executions", lazy=NO_IMPLICIT_IO)
    step_runs: Mapped[list[AIWorkflowStepRun]] = relationship(
        back_populates="execution",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy=NO_IMPLICIT_IO,
    )


class AIWorkflowStepRun(UUIDPrimaryKey, TenantOwned, Timestamps, Base):
    """The state of one attempt of one step of one execution; (execution, step, attempt) is
    unique, so a redelivered step message finds the recorded outcome instead of running the
    step again. Going back to an earlier step (a ``goto:``, a condition's ``then``) starts a
    new attempt of the steps from there on: each asks again, nothing counts an earlier
    attempt's outcome."""

    __tablename__ = "ai_workflow_step_runs"
    __table_args__ = (
        UniqueConstraint("execution_id", "step_key", "attempt"),
        CheckConstraint("attempts >= 0", name="attempts_nonnegative"),
        CheckConstraint("attempt >= 1", name="attempt_positive"),
    )

    execution_id: Mapped[uuid.UUID] = fk(
        "ai_workflow_executions.id", ondelete="CASCADE", nullable=False, index=False
    )
    step_key: Mapped[str] = mapped_column(String(200))
    step_kind: Mapped[str] = mapped_column(String(32))
    attempt: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))
    status: Mapped[StepRunStatus] = mapped_column(
        text_enum(StepRunStatus, "step_run_status"),
        default=StepRunStatus.PENDING,
        server_default=StepRunStatus.PENDING.value,
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    input: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default=_EMPTY_OBJECT)
    output: Mapped[Any | None] = mapped_column(JSONB)
    error: Mapped[str | None] = mapped_column(Text)
    task_id: Mapped[uuid.UUID | None] = fk("tasks.id", ondelete="SET NULL", nullable=True)
    approval_id: Mapped[uuid.UUID | None] = fk("approvals.id", ondelete="SET NULL", nullable=True)
    lease_owner: Mapped[str | None] = mapped_column(String(255))
    lease_expires_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    execution: Mapped[AIWorkflowExecution] = relationship(
        back_populates="step_runs", lazy=NO_IMPLICIT_IO
    )
