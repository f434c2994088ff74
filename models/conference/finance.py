"""An event's money and commitments: ``budgets`` and their ``budget_line_items`` (seed 000's
``budget.py``), and ``contracts`` with venues, sponsors, speakers and other vendors (seed 000's
``contract.py``)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Integer,
    Numeric,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import (
    NO_IMPLICIT_IO,
    Base,
    TenantOwned,
    Timestamps,
    UUIDPrimaryKey,
    fk,
    text_enum,
)

if TYPE_CHECKING:
    from models.conference.events import Event, Venue
    from models.conference.programme import Speaker
    from models.conference.sponsors import Sponsor

__all__ = [
    "Budget",
    "BudgetCategory",
    "BudgetLineItem",
    "BudgetStatus",
    "Contract",
    "ContractStatus",
    "CounterpartyType",
]


class BudgetStatus(enum.StrEnum):
    DRAFT = "draft"
    PROPOSED = "proposed"
    APPROVED = "approved"
    REJECTED = "rejected"


class BudgetCategory(enum.StrEnum):
    VENUE = "venue"
    CATERING = "catering"
    SPEAKERS = "speakers"
    MARKETING = "marketing"
    AV_PRODUCTION = "av_production"
    STAFFING = "staffing"
    TRAVEL = "travel"
    SPONSORSHIP_REVENUE = "sponsorship_revenue"
    TICKET_REVENUE = "ticket_revenue"
    CONTINGENCY = "contingency"
    OTHER = "other"


class ContractStatus(enum.StrEnum):
    DRAFT = "draft"
    SENT = "sent"
    SIGNED = "signed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class CounterpartyType(enum.StrEnum):
    VENUE = "venue"
    SPONSOR = "sponsor"
    SPEAKER = "speaker"
    VENDOR = "vendor"


class Budget(UUIDPrimaryKey, TenantOwned, Timestamps, Base):
    """A budget version for an event, typically drafted by an agent and approved by a human."""

    __tablename__ = "budgets"
    __table_args__ = (CheckConstraint("total_amount >= 0", name="total_amount_nonnegative"),)

    event_id: Mapped[uuid.UUID] = fk("events.id", ondelete="CASCADE", nullable=False)
    name: Mapped[str] = mapped_column(String(255))
    total_amount: Mapped[Decimal] = mapped_column(
        Numeric(12, 2), default=Decimal("0"), server_default=text("0")
    )
    currency: Mapped[str] = mapped_column(String(3), default="USD", server_default=text("'USD'"))
    status: Mapped[BudgetStatus] = mapped_column(
        text_enum(BudgetStatus, "budget_status"), default=BudgetStatus.DRAFT
    )
    prepared_by_agent: Mapped[str | None] = mapped_column(String(100))
    notes: Mapped[str | None] = mapped_column(Text)

    event: Mapped[Event] = relationship(back_populates="budgets", lazy=NO_IMPLICIT_IO)
    line_items: Mapped[list[BudgetLineItem]] = relationship(
        back_populates="budget",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy=NO_IMPLICIT_IO,
    )


class BudgetLineItem(UUIDPrimaryKey, TenantOwned, Timestamps, Base):
    """A cost (or, with ``is_revenue``, an income) line; ``amount`` is never negative."""

    __tablename__ = "budget_line_items"
    __table_args__ = (
        CheckConstraint("amount >= 0", name="amount_nonnegative"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    budget_id: Mapped[uuid.UUID] = fk("budgets.id", ondelete="CASCADE", nullable=False)
    category: Mapped[BudgetCategory] = mapped_column(
        text_enum(BudgetCategory, "budget_category"), default=BudgetCategory.OTHER
    )
    description: Mapped[str | None] = mapped_column(Text)
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    is_revenue: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    vendor: Mapped[str | None] = mapped_column(String(255))
    quantity: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))

    budget: Mapped[Budget] = relationship(back_populates="line_items", lazy=NO_IMPLICIT_IO)


class Contract(UUIDPrimaryKey, TenantOwned, Timestamps, Base):
    """A contract with a venue, sponsor, speaker or other vendor of an event."""

    __tablename__ = "contracts"
    __table_args__ = (CheckConstraint("amount >= 0", name="amount_nonnegative"),)

    event_id: Mapped[uuid.UUID] = fk("events.id", ondelete="CASCADE", nullable=False)
    venue_id: Mapped[uuid.UUID | None] = fk("venues.id", ondelete="SET NULL", nullable=True)
    sponsor_id: Mapped[uuid.UUID | None] = fk("sponsors.id", ondelete="SET NULL", nullable=True)
    speaker_id: Mapped[uuid.UUID | None] = fk("speakers.id", ondelete="SET NULL", nullable=True)
    counterparty_type: Mapped[CounterpartyType] = mapped_column(
        text_enum(CounterpartyType, "counterparty_type"), default=CounterpartyType.VENDOR
    )
    counterparty_name: Mapped[str] = mapped_column(String(255))
    status: Mapped[ContractStatus] = mapped_column(
        text_enum(ContractStatus, "contract_status"), default=ContractStatus.DRAFT
    )
    amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    currency: Mapped[str] = mapped_column(String(3), default="USD", server_default=text("'USD'"))
    terms: Mapped[dict[str, Any]] = mapped_column(default=dict, server_default=text("'{}'::jsonb"))
    document_url: Mapped[str | None] = mapped_column(Text)
    signed_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]

    event: Mapped[Event] = relationship(back_populates="contracts", lazy=NO_IMPLICIT_IO)
    venue: Mapped[Venue | None] = relationship(back_populates="contracts", lazy=NO_IMPLICIT_IO)
    sponsor: Mapped[Sponsor | None] = relationship(back_populates="contracts", lazy=NO_IMPLICIT_IO)
    speaker: Mapped[Speaker | None] = relationship(back_populates="contracts", lazy=NO_IMPLICIT_IO)
