"""Personalisation: ``ai_recommendations`` made to a user at an event, and the
``user_preferences`` they are made from (seed 001)."""

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
    "AIRecommendation",
    "PreferenceSource",
    "RecommendationType",
    "UserPreference",
]


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
