"""AI event-management tables: training data, model versions, recommendations, preferences,
insights, predictions, generated content, templates, communications and automation rules
(seed 001, "AI Event Management Data Schema").

Seed 001's ``ai_agents``, ``ai_workflows``, performance and error-log tables live in other
modules; they, ``events`` and ``users`` are referenced here only by string foreign keys.
Seed 001's ``ai_schema_versions`` table is not modelled: Alembic's version table replaces it.

Differences from the seed's SQL, all deliberate:
- every table is tenant-owned (``tenant_id``), except ``content_templates``, which may be
  shared by all tenants (NULL ``tenant_id``);
- columns the seed left nullable but gave a default (``DEFAULT false``, ``DEFAULT '{}'``,
  ``DEFAULT 0``, ``DEFAULT 'pending'``, ``DEFAULT now()`` ...) are NOT NULL with that default;
- ``ai_generated_content.template_id`` and ``ai_communications.automation_rule_id`` come from
  the seed's entity-relationship diagram (CONTENT_TEMPLATES used_by, AUTOMATION_RULES triggers);
- CHECK constraints the seed declares twice (in CREATE TABLE and again under "Business Logic
  Constraints") are declared once.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Index,
    Integer,
    Numeric,
    Text,
    func,
    text,
)
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

__all__ = [
    "AICommunication",
    "AIGeneratedContent",
    "AIInsight",
    "AIModelVersion",
    "AIPrediction",
    "AIRecommendation",
    "AITrainingData",
    "AutomationRule",
    "AutomationRuleType",
    "CommunicationType",
    "ContentTemplate",
    "ContentType",
    "DeliveryStatus",
    "InsightType",
    "PredictionType",
    "PreferenceSource",
    "RecipientType",
    "RecommendationType",
    "TrainingDataType",
    "UserPreference",
]


# --------------------------------------------------------------------------- enumerations


class TrainingDataType(enum.StrEnum):
    CONTENT = "content"
    BEHAVIOR = "behavior"
    FEEDBACK = "feedback"
    PERFORMANCE = "performance"
    INTERACTION = "interaction"


class RecommendationType(enum.StrEnum):
    SESSION = "session"
    NETWORKING = "networking"
    SPONSOR = "sponsor"
    CONTENT = "content"
    ACTIVITY = "activity"


class PreferenceSource(enum.StrEnum):
    EXPLICIT = "explicit"
    INFERRED = "inferred"
    BEHAVIORAL = "behavioral"


class InsightType(enum.StrEnum):
    ATTENDEE_BEHAVIOR = "attendee_behavior"
    SPONSOR_PERFORMANCE = "sponsor_performance"
    CONTENT_ENGAGEMENT = "content_engagement"
    NETWORKING_SUCCESS = "networking_success"
    REVENUE_OPTIMIZATION = "revenue_optimization"
    OPERATIONAL_EFFICIENCY = "operational_efficiency"


class PredictionType(enum.StrEnum):
    ATTENDANCE = "attendance"
    ENGAGEMENT = "engagement"
    REVENUE = "revenue"
    CHURN = "churn"
    SATISFACTION = "satisfaction"


class ContentType(enum.StrEnum):
    EVENT_DESCRIPTION = "event_description"
    SESSION_TITLE = "session_title"
    SPEAKER_BIO = "speaker_bio"
    EMAIL_TEMPLATE = "email_template"
    SOCIAL_POST = "social_post"
    PROPOSAL = "proposal"
    REPORT = "report"
    PRESENTATION = "presentation"


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


# --------------------------------------------------------------------------- learning & training


class AITrainingData(UUIDPrimaryKey, TenantOwned, CreatedAt, Base):
    """One sample an AI agent learns from, optionally traced to the event and user it came from."""

    __tablename__ = "ai_training_data"
    __table_args__ = (
        CheckConstraint("quality_score >= 0.0 AND quality_score <= 1.0", name="quality_score"),
    )

    agent_id: Mapped[uuid.UUID] = fk("ai_agents.id", ondelete="CASCADE", nullable=False)
    data_type: Mapped[TrainingDataType] = mapped_column(text_enum(TrainingDataType, "data_type"))
    source_event_id: Mapped[uuid.UUID | None] = fk("events.id", ondelete="SET NULL", nullable=True)
    source_user_id: Mapped[uuid.UUID | None] = fk("users.id", ondelete="SET NULL", nullable=True)
    raw_data: Mapped[dict[str, Any]] = mapped_column()
    processed_data: Mapped[dict[str, Any] | None] = mapped_column()
    quality_score: Mapped[Decimal | None] = mapped_column(Numeric(3, 2))
    is_verified: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))


class AIModelVersion(UUIDPrimaryKey, TenantOwned, CreatedAt, Base):
    """A trained model build of an AI agent; ``is_active`` marks the deployed one."""

    __tablename__ = "ai_model_versions"

    agent_id: Mapped[uuid.UUID] = fk("ai_agents.id", ondelete="CASCADE", nullable=False)
    version_number: Mapped[str] = mapped_column(Text)
    model_path: Mapped[str] = mapped_column(Text)
    training_data_size: Mapped[int] = mapped_column(Integer)
    performance_metrics: Mapped[dict[str, Any]] = mapped_column(
        default=dict, server_default=text("'{}'::jsonb")
    )
    hyperparameters: Mapped[dict[str, Any]] = mapped_column(
        default=dict, server_default=text("'{}'::jsonb")
    )
    is_active: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    deployed_at: Mapped[datetime | None] = mapped_column()


# --------------------------------------------------------------------------- recommendations


class AIRecommendation(UUIDPrimaryKey, TenantOwned, CreatedAt, Base):
    """Something recommended to a user at an event. ``recommended_item_id`` is polymorphic
    (a session, attendee, sponsor ... named by ``recommended_item_type``), so it has no FK."""

    __tablename__ = "ai_recommendations"
    __table_args__ = (
        CheckConstraint(
            "confidence_score >= 0.0 AND confidence_score <= 1.0", name="confidence_score"
        ),
        CheckConstraint(
            "feedback_score IS NULL OR (feedback_score >= 1 AND feedback_score <= 5)",
            name="feedback_score",
        ),
        Index("idx_ai_recommendations_user_event", "user_id", "event_id"),
        Index("idx_ai_recommendations_type_confidence", "recommendation_type", "confidence_score"),
        Index(
            "idx_ai_recommendations_expires",
            "expires_at",
            postgresql_where=text("expires_at IS NOT NULL"),
        ),
    )

    # user_id leads idx_ai_recommendations_user_event, so it needs no index of its own.
    user_id: Mapped[uuid.UUID] = fk("users.id", ondelete="CASCADE", nullable=False, index=False)
    event_id: Mapped[uuid.UUID] = fk("events.id", ondelete="CASCADE", nullable=False)
    recommendation_type: Mapped[RecommendationType] = mapped_column(
        text_enum(RecommendationType, "recommendation_type")
    )
    recommended_item_id: Mapped[uuid.UUID] = mapped_column()
    recommended_item_type: Mapped[str] = mapped_column(Text)
    confidence_score: Mapped[Decimal] = mapped_column(Numeric(3, 2))
    reasoning: Mapped[dict[str, Any]] = mapped_column(
        default=dict, server_default=text("'{}'::jsonb")
    )
    #: NULL until the user reacts.
    is_accepted: Mapped[bool | None] = mapped_column(Boolean)
    feedback_score: Mapped[int | None] = mapped_column(Integer)
    expires_at: Mapped[datetime | None] = mapped_column()


class UserPreference(UUIDPrimaryKey, TenantOwned, CreatedAt, Base):
    """A stated or inferred preference of a user, with how sure we are of it."""

    __tablename__ = "user_preferences"

    user_id: Mapped[uuid.UUID] = fk("users.id", ondelete="CASCADE", nullable=False)
    preference_type: Mapped[str] = mapped_column(Text)
    preference_value: Mapped[dict[str, Any]] = mapped_column()
    confidence_level: Mapped[Decimal] = mapped_column(
        Numeric(3, 2), default=Decimal("0.5"), server_default=text("0.5")
    )
    source: Mapped[PreferenceSource] = mapped_column(
        text_enum(PreferenceSource, "source"),
        default=PreferenceSource.EXPLICIT,
        server_default=text("'explicit'"),
    )
    last_updated: Mapped[datetime] = mapped_column(server_default=func.now(), onupdate=func.now())


# --------------------------------------------------------------------------- analytics & insights


class AIInsight(UUIDPrimaryKey, TenantOwned, CreatedAt, Base):
    """An analytic finding about an event, with suggested actions."""

    __tablename__ = "ai_insights"
    __table_args__ = (
        Index("idx_ai_insights_event_type", "event_id", "insight_type"),
        Index("idx_ai_insights_confidence_impact", "confidence_score", "impact_score"),
        Index("idx_ai_insights_created", text("created_at DESC")),
    )

    # event_id leads idx_ai_insights_event_type, so it needs no index of its own.
    event_id: Mapped[uuid.UUID] = fk("events.id", ondelete="CASCADE", nullable=False, index=False)
    insight_type: Mapped[InsightType] = mapped_column(text_enum(InsightType, "insight_type"))
    insight_title: Mapped[str] = mapped_column(Text)
    insight_description: Mapped[str] = mapped_column(Text)
    insight_data: Mapped[dict[str, Any]] = mapped_column()
    confidence_score: Mapped[Decimal] = mapped_column(Numeric(3, 2))
    impact_score: Mapped[Decimal] = mapped_column(Numeric(3, 2))
    actionable_items: Mapped[list[Any]] = mapped_column(
        default=list, server_default=text("'[]'::jsonb")
    )
    generated_by_agent_id: Mapped[uuid.UUID | None] = fk(
        "ai_agents.id", ondelete="SET NULL", nullable=True
    )
    is_implemented: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=text("false")
    )


class AIPrediction(UUIDPrimaryKey, TenantOwned, CreatedAt, Base):
    """A forecast (attendance, revenue ...) ``prediction_horizon`` days ahead."""

    __tablename__ = "ai_predictions"
    __table_args__ = (
        CheckConstraint("prediction_horizon > 0", name="prediction_horizon"),
        Index("idx_ai_predictions_event_type", "event_id", "prediction_type"),
        Index("idx_ai_predictions_horizon", "prediction_horizon"),
        Index("idx_ai_predictions_expires", "expires_at"),
    )

    # event_id leads idx_ai_predictions_event_type, so it needs no index of its own.
    event_id: Mapped[uuid.UUID | None] = fk(
        "events.id", ondelete="CASCADE", nullable=True, index=False
    )
    prediction_type: Mapped[PredictionType] = mapped_column(
        text_enum(PredictionType, "prediction_type")
    )
    predicted_value: Mapped[Decimal] = mapped_column(Numeric(10, 4))
    confidence_interval: Mapped[dict[str, Any]] = mapped_column()
    #: Days ahead.
    prediction_horizon: Mapped[int] = mapped_column(Integer)
    model_version: Mapped[str] = mapped_column(Text)
    input_features: Mapped[dict[str, Any]] = mapped_column()
    expires_at: Mapped[datetime] = mapped_column()


# --------------------------------------------------------------------------- content


class ContentTemplate(UUIDPrimaryKey, TenantOrShared, Timestamps, Base):
    """A reusable content template. Shared reference data: a NULL ``tenant_id`` makes the
    template system-wide (visible to every tenant); otherwise it belongs to one tenant."""

    __tablename__ = "content_templates"

    template_name: Mapped[str] = mapped_column(Text)
    template_type: Mapped[str] = mapped_column(Text)
    template_content: Mapped[str] = mapped_column(Text)
    variables: Mapped[list[Any]] = mapped_column(default=list, server_default=text("'[]'::jsonb"))
    brand_guidelines: Mapped[dict[str, Any]] = mapped_column(
        default=dict, server_default=text("'{}'::jsonb")
    )
    usage_count: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    success_rate: Mapped[Decimal] = mapped_column(
        Numeric(3, 2), default=Decimal("0.0"), server_default=text("0.0")
    )

    generated_contents: Mapped[list[AIGeneratedContent]] = relationship(
        back_populates="template", passive_deletes=True, lazy=NO_IMPLICIT_IO
    )


class AIGeneratedContent(UUIDPrimaryKey, TenantOwned, CreatedAt, Base):
    """A piece of AI-written content, awaiting or carrying a human approval."""

    __tablename__ = "ai_generated_content"

    content_type: Mapped[ContentType] = mapped_column(text_enum(ContentType, "content_type"))
    source_event_id: Mapped[uuid.UUID | None] = fk("events.id", ondelete="SET NULL", nullable=True)
    source_user_id: Mapped[uuid.UUID | None] = fk("users.id", ondelete="SET NULL", nullable=True)
    template_id: Mapped[uuid.UUID | None] = fk(
        "content_templates.id", ondelete="SET NULL", nullable=True
    )
    title: Mapped[str] = mapped_column(Text)
    content: Mapped[str] = mapped_column(Text)
    metadata_: Mapped[dict[str, Any]] = mapped_column(
        "metadata", default=dict, server_default=text("'{}'::jsonb")
    )
    quality_score: Mapped[Decimal | None] = mapped_column(Numeric(3, 2))
    is_approved: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    approved_by: Mapped[uuid.UUID | None] = fk("users.id", ondelete="SET NULL", nullable=True)
    approved_at: Mapped[datetime | None] = mapped_column()
    generated_by_agent_id: Mapped[uuid.UUID | None] = fk(
        "ai_agents.id", ondelete="SET NULL", nullable=True
    )

    template: Mapped[ContentTemplate | None] = relationship(
        back_populates="generated_contents", lazy=NO_IMPLICIT_IO
    )


# --------------------------------------------------------------------------- communication


class AutomationRule(UUIDPrimaryKey, TenantOwned, Timestamps, Base):
    """A trigger/condition/action rule that can send communications automatically."""

    __tablename__ = "automation_rules"

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
