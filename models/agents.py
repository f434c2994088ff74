"""Agent definitions, their model providers and system settings (seeds 001 and 004)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    Index,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import (
    NO_IMPLICIT_IO,
    Base,
    CreatedAt,
    TenantOrShared,
    Timestamps,
    UUIDPrimaryKey,
    fk,
    text_enum,
)


class AgentType(enum.StrEnum):
    CONTENT = "content"
    RECOMMENDATION = "recommendation"
    NETWORKING = "networking"
    ANALYTICS = "analytics"
    SUPPORT = "support"
    MARKETING = "marketing"
    ONSITE = "onsite"
    SPONSORSHIP = "sponsorship"
    FEEDBACK = "feedback"
    SCHEDULING = "scheduling"
    SALES = "sales"
    PROCUREMENT = "procurement"
    INSIGHTS = "insights"
    ENGAGEMENT = "engagement"
    VOICE = "voice"
    BEHAVIOR = "behavior"
    REPORTING = "reporting"
    HYBRID = "hybrid"
    EMOTION = "emotion"
    SUSTAINABILITY = "sustainability"


class AgentStatus(enum.StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"
    TRAINING = "training"
    MAINTENANCE = "maintenance"


class ModelUsageType(enum.StrEnum):
    INTERVIEW = "interview"
    PROMPT_GENERATION = "prompt_generation"
    COMMIT_GENERATION = "commit_generation"
    TASK_EXECUTION = "task_execution"
    GENERAL = "general"
    EMBEDDING = "embedding"


_EMPTY_OBJECT = text("'{}'::jsonb")


class AIAgent(UUIDPrimaryKey, TenantOrShared, Timestamps, Base):
    """An agent definition (seed 001 ai_agents). ``tenant_id`` NULL means a system-wide agent
    that every tenant may run; a tenant's own agent of the same name takes precedence.

    ``configuration`` holds the runtime definition: model, system_prompt, tools, temperature,
    max_steps, max_tokens and an optional output JSON Schema.
    """

    __tablename__ = "ai_agents"
    __table_args__ = (UniqueConstraint("tenant_id", "name", postgresql_nulls_not_distinct=True),)

    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    type: Mapped[AgentType] = mapped_column(text_enum(AgentType, "agent_type"))
    status: Mapped[AgentStatus] = mapped_column(
        text_enum(AgentStatus, "agent_status"),
        default=AgentStatus.ACTIVE,
        server_default=AgentStatus.ACTIVE.value,
    )
    version: Mapped[str] = mapped_column(Text)
    configuration: Mapped[dict[str, Any]] = mapped_column(
        default=dict, server_default=_EMPTY_OBJECT
    )
    performance_metrics: Mapped[dict[str, Any]] = mapped_column(
        default=dict, server_default=_EMPTY_OBJECT
    )

    performance: Mapped[list[AIAgentPerformance]] = relationship(
        back_populates="agent",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy=NO_IMPLICIT_IO,
    )


class AIAgentPerformance(UUIDPrimaryKey, TenantOrShared, CreatedAt, Base):
    """A measured figure of one agent (seed 001). NULL tenant: measured across tenants."""

    __tablename__ = "ai_agent_performance"
    __table_args__ = (
        Index("idx_ai_agent_performance_agent_date", "agent_id", "measurement_date"),
        Index("idx_ai_agent_performance_metric", "metric_name", "measurement_date"),
    )

    agent_id: Mapped[uuid.UUID] = fk(
        "ai_agents.id", ondelete="CASCADE", nullable=False, index=False
    )
    metric_name: Mapped[str] = mapped_column(Text)
    metric_value: Mapped[Decimal] = mapped_column(Numeric(10, 4))
    measurement_date: Mapped[datetime]
    context: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default=_EMPTY_OBJECT)

    agent: Mapped[AIAgent] = relationship(back_populates="performance", lazy=NO_IMPLICIT_IO)


class AIModel(UUIDPrimaryKey, TenantOrShared, Timestamps, Base):
    """An LLM provider configuration (seed 004 AIModel). The API key is stored encrypted
    (``api_key_encrypted``, Fernet-style token made by ``worker``), never in clear.
    NULL tenant: a system-wide provider."""

    __tablename__ = "ai_models"
    __table_args__ = (UniqueConstraint("tenant_id", "name", postgresql_nulls_not_distinct=True),)

    name: Mapped[str] = mapped_column(String(100))
    provider: Mapped[str] = mapped_column(String(50), index=True)
    model: Mapped[str] = mapped_column(String(200))
    base_url: Mapped[str | None] = mapped_column(String(500))
    api_key_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary)
    usage_type: Mapped[ModelUsageType] = mapped_column(
        text_enum(ModelUsageType, "usage_type"),
        default=ModelUsageType.GENERAL,
        server_default=ModelUsageType.GENERAL.value,
        index=True,
    )
    is_active: Mapped[bool] = mapped_column(
        Boolean, default=True, server_default=text("true"), index=True
    )
    config: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default=_EMPTY_OBJECT)


class SystemSetting(UUIDPrimaryKey, TenantOrShared, Timestamps, Base):
    """A configuration value (seed 004 SystemSettings). NULL tenant: the system-wide value;
    a tenant's row overrides it."""

    __tablename__ = "system_settings"
    __table_args__ = (UniqueConstraint("tenant_id", "key", postgresql_nulls_not_distinct=True),)

    key: Mapped[str] = mapped_column(String(100))
    value: Mapped[Any] = mapped_column(JSONB)
    description: Mapped[str | None] = mapped_column(Text)
