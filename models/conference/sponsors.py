"""An event's sponsorship: the ``sponsors`` pipeline (seed 000's ``sponsor.py``) and the
``sponsorship_packages`` on offer (seed 001's SPONSORSHIP_PACKAGES), taken up once sold."""

from __future__ import annotations

import enum
import uuid
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    CheckConstraint,
    Integer,
    Numeric,
    String,
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
    from models.conference.events import Event
    from models.conference.finance import Contract

__all__ = [
    "Sponsor",
    "SponsorStatus",
    "SponsorTier",
    "SponsorshipPackage",
]


class SponsorTier(enum.StrEnum):
    PLATINUM = "platinum"
    GOLD = "gold"
    SILVER = "silver"
    BRONZE = "bronze"
    PARTNER = "partner"


class SponsorStatus(enum.StrEnum):
    PROSPECT = "prospect"
    CONTACTED = "contacted"
    NEGOTIATING = "negotiating"
    CONFIRMED = "confirmed"
    DECLINED = "declined"


class Sponsor(UUIDPrimaryKey, TenantOwned, Timestamps, Base):
    """A sponsor in the pipeline for an event; ``tier`` stays empty until one is agreed."""

    __tablename__ = "sponsors"
    __table_args__ = (CheckConstraint("amount >= 0", name="amount_nonnegative"),)

    event_id: Mapped[uuid.UUID] = fk("events.id", ondelete="CASCADE", nullable=False)
    name: Mapped[str] = mapped_column(String(255))
    tier: Mapped[SponsorTier | None] = mapped_column(text_enum(SponsorTier, "sponsor_tier"))
    status: Mapped[SponsorStatus] = mapped_column(
        text_enum(SponsorStatus, "sponsor_status"), default=SponsorStatus.PROSPECT
    )
    amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    contact_email: Mapped[str | None] = mapped_column(String(320))
    details: Mapped[dict[str, Any]] = mapped_column(
        default=dict, server_default=text("'{}'::jsonb")
    )
    proposed_by_agent: Mapped[str | None] = mapped_column(String(100))

    event: Mapped[Event] = relationship(back_populates="sponsors", lazy=NO_IMPLICIT_IO)
    packages: Mapped[list[SponsorshipPackage]] = relationship(
        back_populates="sponsor", passive_deletes=True, lazy=NO_IMPLICIT_IO
    )
    contracts: Mapped[list[Contract]] = relationship(
        back_populates="sponsor", passive_deletes=True, lazy=NO_IMPLICIT_IO
    )


class SponsorshipPackage(UUIDPrimaryKey, TenantOwned, Timestamps, Base):
    """A sponsorship offering of an event, taken up by a sponsor once sold."""

    __tablename__ = "sponsorship_packages"
    __table_args__ = (
        CheckConstraint("price >= 0", name="price_nonnegative"),
        CheckConstraint("max_sponsors > 0", name="max_sponsors_positive"),
    )

    event_id: Mapped[uuid.UUID] = fk("events.id", ondelete="CASCADE", nullable=False)
    sponsor_id: Mapped[uuid.UUID | None] = fk("sponsors.id", ondelete="SET NULL", nullable=True)
    name: Mapped[str] = mapped_column(String(255))
    tier: Mapped[SponsorTier] = mapped_column(text_enum(SponsorTier, "package_tier"))
    price: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    benefits: Mapped[list[Any]] = mapped_column(default=list, server_default=text("'[]'::jsonb"))
    max_sponsors: Mapped[int | None] = mapped_column(Integer)

    event: Mapped[Event] = relationship(back_populates="sponsorship_packages", lazy=NO_IMPLICIT_IO)
    sponsor: Mapped[Sponsor | None] = relationship(back_populates="packages", lazy=NO_IMPLICIT_IO)
