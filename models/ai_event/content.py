"""AI-written content: reusable ``content_templates`` (shared by every tenant when
``tenant_id`` is NULL) and the ``ai_generated_content`` written from them, awaiting or carrying a
human approval (seed 001; ``template_id`` from its ERD)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    Integer,
    Numeric,
    Text,
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
    "AIGeneratedContent",
    "ContentTemplate",
    "ContentType",
]


class ContentType(enum.StrEnum):
    EVENT_DESCRIPTION = "event_description"
    SESSION_TITLE = "session_title"
    SPEAKER_BIO = "speaker_bio"
    EMAIL_TEMPLATE = "email_template"
    SOCIAL_POST = "social_post"
    PROPOSAL = "proposal"
    REPORT = "report"
    PRESENTATION = "presentation"


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
