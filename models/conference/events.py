"""The event being planned and where it happens: ``events`` (seed 000's ``event.py``, seed 001's
EVENTS), candidate and booked ``venues`` and their ``rooms`` (seed 000's ``venue.py``).

An event owns every other conference row: deleting it deletes its programme, people, sales,
budgets and contracts (ON DELETE CASCADE, mirrored by the ORM's ``delete-orphan`` cascades).
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    CheckConstraint,
    Index,
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
    from models.conference.attendees import Attendee
    from models.conference.finance import Budget, Contract
    from models.conference.programme import ConferenceSession, Speaker, Track
    from models.conference.sales import Order, Ticket
    from models.conference.sponsors import Sponsor, SponsorshipPackage

__all__ = [
    "Event",
    "EventStatus",
    "Room",
    "Venue",
    "VenueStatus",
]


class EventStatus(enum.StrEnum):
    PLANNING = "planning"
    CONFIRMED = "confirmed"
    LIVE = "live"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class VenueStatus(enum.StrEnum):
    PROPOSED = "proposed"
    SHORTLISTED = "shortlisted"
    BOOKED = "booked"
    REJECTED = "rejected"


class Event(UUIDPrimaryKey, TenantOwned, Timestamps, Base):
    """A conference being planned; ``brief_json`` is the planning brief the agents work from."""

    __tablename__ = "events"
    __table_args__ = (
        CheckConstraint("end_date >= start_date", name="dates_ordered"),
        CheckConstraint("expected_attendees > 0", name="expected_attendees_positive"),
        CheckConstraint("budget_total >= 0", name="budget_total_nonnegative"),
        Index("ix_events_tenant_id_status", "tenant_id", "status"),
    )

    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    brief_json: Mapped[dict[str, Any]] = mapped_column(
        default=dict, server_default=text("'{}'::jsonb")
    )
    city: Mapped[str | None] = mapped_column(String(255))
    venue_pref: Mapped[str | None] = mapped_column(Text)
    start_date: Mapped[datetime | None]
    end_date: Mapped[datetime | None]
    status: Mapped[EventStatus] = mapped_column(
        text_enum(EventStatus, "event_status"), default=EventStatus.PLANNING
    )
    expected_attendees: Mapped[int | None] = mapped_column(Integer)
    budget_total: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    currency: Mapped[str] = mapped_column(String(3), default="USD", server_default=text("'USD'"))
    metadata_: Mapped[dict[str, Any]] = mapped_column(
        "metadata", default=dict, server_default=text("'{}'::jsonb")
    )

    venues: Mapped[list[Venue]] = relationship(
        back_populates="event",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy=NO_IMPLICIT_IO,
    )
    tracks: Mapped[list[Track]] = relationship(
        back_populates="event",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy=NO_IMPLICIT_IO,
    )
    sessions: Mapped[list[ConferenceSession]] = relationship(
        back_populates="event",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy=NO_IMPLICIT_IO,
    )
    speakers: Mapped[list[Speaker]] = relationship(
        back_populates="event",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy=NO_IMPLICIT_IO,
    )
    attendees: Mapped[list[Attendee]] = relationship(
        back_populates="event",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy=NO_IMPLICIT_IO,
    )
    sponsors: Mapped[list[Sponsor]] = relationship(
        back_populates="event",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy=NO_IMPLICIT_IO,
    )
    sponsorship_packages: Mapped[list[SponsorshipPackage]] = relationship(
        back_populates="event",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy=NO_IMPLICIT_IO,
    )
    tickets: Mapped[list[Ticket]] = relationship(
        back_populates="event",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy=NO_IMPLICIT_IO,
    )
    orders: Mapped[list[Order]] = relationship(
        back_populates="event",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy=NO_IMPLICIT_IO,
    )
    budgets: Mapped[list[Budget]] = relationship(
        back_populates="event",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy=NO_IMPLICIT_IO,
    )
    contracts: Mapped[list[Contract]] = relationship(
        back_populates="event",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy=NO_IMPLICIT_IO,
    )


class Venue(UUIDPrimaryKey, TenantOwned, Timestamps, Base):
    """A candidate or booked venue for an event, often proposed by an agent."""

    __tablename__ = "venues"
    __table_args__ = (
        CheckConstraint("capacity > 0", name="capacity_positive"),
        CheckConstraint("estimated_cost >= 0", name="estimated_cost_nonnegative"),
    )

    event_id: Mapped[uuid.UUID] = fk("events.id", ondelete="CASCADE", nullable=False)
    name: Mapped[str] = mapped_column(String(255))
    city: Mapped[str | None] = mapped_column(String(255))
    address: Mapped[str | None] = mapped_column(Text)
    capacity: Mapped[int | None] = mapped_column(Integer)
    estimated_cost: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    status: Mapped[VenueStatus] = mapped_column(
        text_enum(VenueStatus, "venue_status"), default=VenueStatus.PROPOSED
    )
    details: Mapped[dict[str, Any]] = mapped_column(
        default=dict, server_default=text("'{}'::jsonb")
    )
    proposed_by_agent: Mapped[str | None] = mapped_column(String(100))

    event: Mapped[Event] = relationship(back_populates="venues", lazy=NO_IMPLICIT_IO)
    rooms: Mapped[list[Room]] = relationship(
        back_populates="venue",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy=NO_IMPLICIT_IO,
    )
    contracts: Mapped[list[Contract]] = relationship(
        back_populates="venue", passive_deletes=True, lazy=NO_IMPLICIT_IO
    )


class Room(UUIDPrimaryKey, TenantOwned, Timestamps, Base):
    """A bookable room inside a venue."""

    __tablename__ = "rooms"
    __table_args__ = (CheckConstraint("capacity > 0", name="capacity_positive"),)

    venue_id: Mapped[uuid.UUID] = fk("venues.id", ondelete="CASCADE", nullable=False)
    name: Mapped[str] = mapped_column(String(255))
    capacity: Mapped[int | None] = mapped_column(Integer)
    features: Mapped[dict[str, Any]] = mapped_column(
        default=dict, server_default=text("'{}'::jsonb")
    )

    venue: Mapped[Venue] = relationship(back_populates="rooms", lazy=NO_IMPLICIT_IO)
    sessions: Mapped[list[ConferenceSession]] = relationship(
        back_populates="room", passive_deletes=True, lazy=NO_IMPLICIT_IO
    )
