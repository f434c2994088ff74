"""Analytics: ``ai_insights`` (findings about an event, with suggested actions) and
``ai_predictions`` (forecasts some days ahead) (seed 001)."""

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
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from models.base import (
    Base,
    CreatedAt,
    TenantOwned,
    UUIDPrimaryKey,
    fk,
    text_enum,
)

__all__ = [
    "AIInsight",
    "AIPrediction",
    "InsightType",
    "PredictionType",
]


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
