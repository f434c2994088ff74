"""AI-written messages and what sends them: ``automation_rules`` (trigger, condition, action)
and the ``ai_communications`` to users, attendees and sponsors (seed 001;
``automation_rule_id`` from its ERD)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    Index,
    Integer,
    Numeric,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import (
    NO_IMPLICIT_IO,
    Base,
    CreatedAt,
    TenantOwned,
    Timestamps,
    UUIDPrimaryKey,
    fk,
    text_enum,
)

__all__ = [
    "AICommunication",
    "AutomationRule",
    "AutomationRuleType",
    "CommunicationType",
    "DeliveryStatus",
    "RecipientType",
]


class CommunicationType(enum.StrEnum):
    EMAIL = "email"
    SMS = "sms"
    PUSH_NOTIFICATION = "push_notification"
    IN_APP_MESSAGE = "in_app_message"


class RecipientType(enum.StrEnum):
    USER = "user"
    ATTENDEE = "attendee"
    SPONSOR = "sponsor"


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    DELIVERED = "delivered"
    OPENED = "opened"
    CLICKED = "clicked"
    FAILED = "failed"


class AutomationRuleType(enum.StrEnum):
    TRIGGER = "trigger"
    CONDITION = "condition"
    ACTION = "action"
    SEQUENCE = "sequence"


class AutomationRule(UUIDPrimaryKey, TenantOwned, Timestamps, Base):
    """A trigger/condition/action rule that can send communications automatically."""

    __tablename__ = "automation_rules"
    #: ``agentworker rules save`` finds a rule by its name.
    __table_args__ = (UniqueConstraint("tenant_id", "rule_name"),)

    rule_name: Mapped[str] = mapped_column(Text)
    rule_type: Mapped[AutomationRuleType] = mapped_column(
        text_enum(AutomationRuleType, "rule_type")
    )
    trigger_conditions: Mapped[dict[str, Any]] = mapped_column()
    action_definitions: Mapped[dict[str, Any]] = mapped_column()
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    execution_count: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    success_rate: Mapped[Decimal] = mapped_column(
        Numeric(3, 2), default=Decimal("0.0"), server_default=text("0.0")
    )
    last_executed_at: Mapped[datetime | None] = mapped_column()

    communications: Mapped[list[AICommunication]] = relationship(
        back_populates="automation_rule", passive_deletes=True, lazy=NO_IMPLICIT_IO
    )


class AICommunication(UUIDPrimaryKey, TenantOwned, CreatedAt, Base):
    """An AI-written message to a user, attendee or sponsor. ``recipient_id`` is polymorphic
    (named by ``recipient_type``), so it has no FK."""

    __tablename__ = "ai_communications"
    __table_args__ = (
        Index("idx_ai_communications_recipient", "recipient_id", "recipient_type"),
        Index("idx_ai_communications_status", "delivery_status"),
        Index(
            "idx_ai_communications_scheduled",
            "send_scheduled_at",
            postgresql_where=text("send_scheduled_at IS NOT NULL"),
        ),
    )

    communication_type: Mapped[CommunicationType] = mapped_column(
        text_enum(CommunicationType, "communication_type")
    )
    recipient_id: Mapped[uuid.UUID] = mapped_column()
    recipient_type: Mapped[RecipientType] = mapped_column(
        text_enum(RecipientType, "recipient_type")
    )
    subject: Mapped[str | None] = mapped_column(Text)
    content: Mapped[str] = mapped_column(Text)
    personalization_data: Mapped[dict[str, Any]] = mapped_column(
        default=dict, server_default=text("'{}'::jsonb")
    )
    send_scheduled_at: Mapped[datetime | None] = mapped_column()
    sent_at: Mapped[datetime | None] = mapped_column()
    delivery_status: Mapped[DeliveryStatus] = mapped_column(
        text_enum(DeliveryStatus, "delivery_status"),
        default=DeliveryStatus.PENDING,
        server_default=text("'pending'"),
    )
    engagement_metrics: Mapped[dict[str, Any]] = mapped_column(
        default=dict, server_default=text("'{}'::jsonb")
    )
    generated_by_agent_id: Mapped[uuid.UUID | None] = fk(
        "ai_agents.id", ondelete="SET NULL", nullable=True
    )
    automation_rule_id: Mapped[uuid.UUID | None] = fk(
        "automation_rules.id", ondelete="SET NULL", nullable=True
    )

    automation_rule: Mapped[AutomationRule | None] = relationship(
        back_populates="communications", lazy=NO_IMPLICIT_IO
    )
