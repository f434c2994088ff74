"""What AI agents learn from and what they become: ``ai_training_data`` samples and the
trained ``ai_model_versions`` of an agent (seed 001)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
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
    "AIModelVersion",
    "AITrainingData",
    "TrainingDataType",
]


class TrainingDataType(enum.StrEnum):
    CONTENT = "content"
    BEHAVIOR = "behavior"
    FEEDBACK = "feedback"
    PERFORMANCE = "performance"
    INTERACTION = "interaction"


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
