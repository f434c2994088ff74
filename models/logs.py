"""Audit, action, error and performance logs (seeds 000, 001 and 003)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, Numeric, String, Text, false, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from models.base import (
    Base,
    CreatedAt,
    TenantOrShared,
    TenantOwned,
    Timestamps,
    UUIDPrimaryKey,
    fk,
    text_enum,
)

_EMPTY_OBJECT = text("'{}'::jsonb")


class ActionType(enum.StrEnum):
    """Seed 003's 26 action types: CRM, helpdesk, calendar, email and knowledge."""

    CRM_CREATE = "crm_create"
    CRM_READ = "crm_read"
    CRM_UPDATE = "crm_update"
    CRM_DELETE = "crm_delete"
    CRM_SEARCH = "crm_search"
    HELPDESK_CREATE_TICKET = "helpdesk_create_ticket"
    HELPDESK_READ_TICKET = "helpdesk_read_ticket"
    HELPDESK_UPDATE_TICKET = "helpdesk_update_ticket"
    HELPDESK_CLOSE_TICKET = "helpdesk_close_ticket"
    HELPDESK_ADD_COMMENT = "helpdesk_add_comment"
    CALENDAR_CREATE_EVENT = "calendar_create_event"
    CALENDAR_READ_EVENT = "calendar_read_event"
    CALENDAR_UPDATE_EVENT = "calendar_update_event"
    CALENDAR_DELETE_EVENT = "calendar_delete_event"
    CALENDAR_CHECK_AVAILABILITY = "calendar_check_availability"
    EMAIL_SEND = "email_send"
    EMAIL_DRAFT = "email_draft"
    EMAIL_READ = "email_read"
    EMAIL_SEARCH = "email_search"
    EMAIL_REPLY = "email_reply"
    KNOWLEDGE_SEARCH = "knowledge_search"
    KNOWLEDGE_READ = "knowledge_read"
    KNOWLEDGE_CREATE = "knowledge_create"
    KNOWLEDGE_UPDATE = "knowledge_update"
    KNOWLEDGE_DELETE = "knowledge_delete"
    KNOWLEDGE_SYNC = "knowledge_sync"


class ActionStatus(enum.StrEnum):
    PENDING = "pending"
    SUCCESS = "success"
    FAILURE = "failure"
    TIMEOUT = "timeout"
    RETRY = "retry"


class ErrorSeverity(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


class MetricCategory(enum.StrEnum):
    ACCURACY = "accuracy"
    PRECISION = "precision"
    RECALL = "recall"
    LATENCY = "latency"
    THROUGHPUT = "throughput"
    COST = "cost"


class AuditLog(UUIDPrimaryKey, TenantOwned, Timestamps, Base):
    """Who did what to which resource, and when (seeds 000 and 003). Decisions on approvals
    and refused attempts are written here in the same transaction as the change."""

    __tablename__ = "audit_logs"
    __table_args__ = (
        Index("ix_audit_logs_tenant_id_created_at", "tenant_id", "created_at"),
        Index("ix_audit_logs_resource", "resource_type", "resource_id"),
    )

    user_id: Mapped[uuid.UUID | None] = fk("users.id", ondelete="SET NULL", nullable=True)
    actor: Mapped[str | None] = mapped_column(String(255))
    action: Mapped[str] = mapped_column(String(100), index=True)
    resource_type: Mapped[str] = mapped_column(String(100))
    resource_id: Mapped[str | None] = mapped_column(String(255))
    changes: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default=_EMPTY_OBJECT)
    ip_address: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(Text)
    metadata_: Mapped[dict[str, Any]] = mapped_column(
        "metadata", default=dict, server_default=_EMPTY_OBJECT
    )


class ActionLog(UUIDPrimaryKey, TenantOwned, Timestamps, Base):
    """One call to a tool or an external provider (seed 003). ``action_type`` is set where one
    of the 26 fits; ``tool_name`` always says what ran. ``idempotency_key`` lets a redelivered
    step find the recorded call instead of repeating a side effect."""

    __tablename__ = "action_logs"
    __table_args__ = (Index("ix_action_logs_tenant_id_created_at", "tenant_id", "created_at"),)

    action_type: Mapped[ActionType | None] = mapped_column(
        text_enum(ActionType, "action_type"), index=True
    )
    provider_name: Mapped[str] = mapped_column(String(100), index=True)
    tool_name: Mapped[str | None] = mapped_column(String(100))
    request_payload: Mapped[dict[str, Any]] = mapped_column(
        default=dict, server_default=_EMPTY_OBJECT
    )
    response_data: Mapped[Any | None] = mapped_column(JSONB)
    status: Mapped[ActionStatus] = mapped_column(
        text_enum(ActionStatus, "action_status"),
        default=ActionStatus.PENDING,
        server_default=ActionStatus.PENDING.value,
        index=True,
    )
    error_message: Mapped[str | None] = mapped_column(Text)
    execution_time_ms: Mapped[int | None] = mapped_column(Integer)
    task_id: Mapped[uuid.UUID | None] = fk("tasks.id", ondelete="CASCADE", nullable=True)
    agent_run_id: Mapped[uuid.UUID | None] = fk("agent_runs.id", ondelete="CASCADE", nullable=True)
    tool_call_id: Mapped[str | None] = mapped_column(String(200))
    idempotency_key: Mapped[str | None] = mapped_column(String(255), unique=True)
    metadata_: Mapped[dict[str, Any]] = mapped_column(
        "metadata", default=dict, server_default=_EMPTY_OBJECT
    )


class AIErrorLog(UUIDPrimaryKey, CreatedAt, Base):
    """A failure worth an operator's look (seed 001). ``tenant_id`` is NULL when the failure
    could not be attributed to a tenant (e.g. a payload too broken to name one)."""

    __tablename__ = "ai_error_logs"

    tenant_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), index=True, sort_order=-99
    )
    agent_id: Mapped[uuid.UUID | None] = fk("ai_agents.id", ondelete="SET NULL", nullable=True)
    workflow_id: Mapped[uuid.UUID | None] = fk(
        "ai_workflows.id", ondelete="SET NULL", nullable=True
    )
    task_id: Mapped[uuid.UUID | None] = fk("tasks.id", ondelete="SET NULL", nullable=True)
    error_type: Mapped[str] = mapped_column(Text)
    error_message: Mapped[str] = mapped_column(Text)
    error_context: Mapped[dict[str, Any]] = mapped_column(
        default=dict, server_default=_EMPTY_OBJECT
    )
    stack_trace: Mapped[str | None] = mapped_column(Text)
    severity: Mapped[ErrorSeverity] = mapped_column(text_enum(ErrorSeverity, "severity"))
    is_resolved: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    resolved_at: Mapped[datetime | None]


class AIPerformanceMetric(UUIDPrimaryKey, TenantOrShared, CreatedAt, Base):
    """One measurement (seed 001), e.g. the latency of one LLM attempt. ``agent_id`` is
    nullable here (seed: NOT NULL) because embedding calls for knowledge ingestion have no
    agent."""

    __tablename__ = "ai_performance_metrics"
    __table_args__ = (
        Index("idx_ai_performance_agent_category", "agent_id", "metric_category"),
        Index("idx_ai_performance_timestamp", text("measurement_timestamp DESC")),
        Index(
            "ix_ai_performance_metrics_unfolded_latency",
            "measurement_timestamp",
            postgresql_where=text("NOT metrics_folded AND metric_category = 'latency'"),
        ),
    )

    agent_id: Mapped[uuid.UUID | None] = fk(
        "ai_agents.id", ondelete="CASCADE", nullable=True, index=False
    )
    metric_category: Mapped[MetricCategory] = mapped_column(
        text_enum(MetricCategory, "metric_category")
    )
    metric_name: Mapped[str] = mapped_column(Text)
    metric_value: Mapped[Decimal] = mapped_column(Numeric(10, 4))
    measurement_context: Mapped[dict[str, Any]] = mapped_column(
        default=dict, server_default=_EMPTY_OBJECT
    )
    measurement_timestamp: Mapped[datetime]
    #: Whether its share of the fleet's latency histogram is in ``retained_totals`` already
    #: (worker.ops.metrics_folding).
    metrics_folded: Mapped[bool] = mapped_column(default=False, server_default=false())
