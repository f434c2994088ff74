"""The conference domain of seeds 000 and 001: events, venues, programme, people, sales,
budgets and contracts.

Every table carries its own ``tenant_id``, including children that could reach the tenant
through a parent, so tenant filtering never needs a join.
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
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
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

__all__ = [
    "Attendee",
    "AttendeeStatus",
    "AttendeeType",
    "Budget",
    "BudgetCategory",
    "BudgetLineItem",
    "BudgetStatus",
    "ConferenceSession",
    "Contract",
    "ContractStatus",
    "CounterpartyType",
    "Event",
    "EventStatus",
    "Order",
    "OrderItem",
    "OrderStatus",
    "Payment",
    "PaymentStatus",
    "Room",
    "SessionAttendance",
    "SessionSpeaker",
    "SessionType",
    "Speaker",
    "SpeakerStatus",
    "Sponsor",
    "SponsorStatus",
    "SponsorTier",
    "SponsorshipPackage",
    "Ticket",
    "TicketType",
    "Track",
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


class SessionType(enum.StrEnum):
    KEYNOTE = "keynote"
    TALK = "talk"
    WORKSHOP = "workshop"
    PANEL = "panel"
    BREAK = "break"
    NETWORKING = "networking"


class SpeakerStatus(enum.StrEnum):
    PROPOSED = "proposed"
    INVITED = "invited"
    CONFIRMED = "confirmed"
    DECLINED = "declined"
    CANCELLED = "cancelled"


class AttendeeType(enum.StrEnum):
    GENERAL = "general"
    VIP = "vip"
    SPEAKER = "speaker"
    SPONSOR = "sponsor"
    STAFF = "staff"
    PRESS = "press"


class AttendeeStatus(enum.StrEnum):
    REGISTERED = "registered"
    CHECKED_IN = "checked_in"
    CANCELLED = "cancelled"


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


class TicketType(enum.StrEnum):
    GENERAL = "general"
    VIP = "vip"
    EARLY_BIRD = "early_bird"
    STUDENT = "student"
    SPEAKER = "speaker"
    SPONSOR = "sponsor"
    VIRTUAL = "virtual"


class OrderStatus(enum.StrEnum):
    PENDING = "pending"
    PAID = "paid"
    REFUNDED = "refunded"
    CANCELLED = "cancelled"


class PaymentStatus(enum.StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REFUNDED = "refunded"


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


class Track(UUIDPrimaryKey, TenantOwned, Timestamps, Base):
    """A thematic track grouping sessions of an event."""

    __tablename__ = "tracks"

    event_id: Mapped[uuid.UUID] = fk("events.id", ondelete="CASCADE", nullable=False)
    name: Mapped[str] = mapped_column(String(255))
    description: Mapped[str | None] = mapped_column(Text)
    color: Mapped[str | None] = mapped_column(String(32))

    event: Mapped[Event] = relationship(back_populates="tracks", lazy=NO_IMPLICIT_IO)
    sessions: Mapped[list[ConferenceSession]] = relationship(
        back_populates="track", passive_deletes=True, lazy=NO_IMPLICIT_IO
    )


class ConferenceSession(UUIDPrimaryKey, TenantOwned, Timestamps, Base):
    """A scheduled programme item (seed 000's ``session.py``; not a database session)."""

    __tablename__ = "conference_sessions"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_starts"),
        CheckConstraint("capacity > 0", name="capacity_positive"),
        Index("ix_conference_sessions_event_id_starts_at", "event_id", "starts_at"),
    )

    event_id: Mapped[uuid.UUID] = fk("events.id", ondelete="CASCADE", nullable=False)
    track_id: Mapped[uuid.UUID | None] = fk("tracks.id", ondelete="SET NULL", nullable=True)
    room_id: Mapped[uuid.UUID | None] = fk("rooms.id", ondelete="SET NULL", nullable=True)
    title: Mapped[str] = mapped_column(String(255))
    abstract: Mapped[str | None] = mapped_column(Text)
    session_type: Mapped[SessionType] = mapped_column(
        text_enum(SessionType, "session_type"), default=SessionType.TALK
    )
    starts_at: Mapped[datetime | None]
    ends_at: Mapped[datetime | None]
    capacity: Mapped[int | None] = mapped_column(Integer)

    event: Mapped[Event] = relationship(back_populates="sessions", lazy=NO_IMPLICIT_IO)
    track: Mapped[Track | None] = relationship(back_populates="sessions", lazy=NO_IMPLICIT_IO)
    room: Mapped[Room | None] = relationship(back_populates="sessions", lazy=NO_IMPLICIT_IO)
    speaker_assignments: Mapped[list[SessionSpeaker]] = relationship(
        back_populates="session",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy=NO_IMPLICIT_IO,
    )
    attendance: Mapped[list[SessionAttendance]] = relationship(
        back_populates="session",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy=NO_IMPLICIT_IO,
    )


class Speaker(UUIDPrimaryKey, TenantOwned, Timestamps, Base):
    """A speaker proposed for, invited to or confirmed at an event."""

    __tablename__ = "speakers"
    __table_args__ = (CheckConstraint("fee >= 0", name="fee_nonnegative"),)

    event_id: Mapped[uuid.UUID] = fk("events.id", ondelete="CASCADE", nullable=False)
    name: Mapped[str] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(320))
    bio: Mapped[str | None] = mapped_column(Text)
    topic: Mapped[str | None] = mapped_column(String(255))
    company: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[SpeakerStatus] = mapped_column(
        text_enum(SpeakerStatus, "speaker_status"), default=SpeakerStatus.PROPOSED
    )
    fee: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    details: Mapped[dict[str, Any]] = mapped_column(
        default=dict, server_default=text("'{}'::jsonb")
    )
    proposed_by_agent: Mapped[str | None] = mapped_column(String(100))

    event: Mapped[Event] = relationship(back_populates="speakers", lazy=NO_IMPLICIT_IO)
    session_assignments: Mapped[list[SessionSpeaker]] = relationship(
        back_populates="speaker",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy=NO_IMPLICIT_IO,
    )
    contracts: Mapped[list[Contract]] = relationship(
        back_populates="speaker", passive_deletes=True, lazy=NO_IMPLICIT_IO
    )


class SessionSpeaker(UUIDPrimaryKey, TenantOwned, Timestamps, Base):
    """A speaker's part in a session (speaker, moderator, panelist...)."""

    __tablename__ = "session_speakers"
    __table_args__ = (UniqueConstraint("session_id", "speaker_id"),)

    session_id: Mapped[uuid.UUID] = fk("conference_sessions.id", ondelete="CASCADE", nullable=False)
    speaker_id: Mapped[uuid.UUID] = fk("speakers.id", ondelete="CASCADE", nullable=False)
    role: Mapped[str] = mapped_column(
        String(50), default="speaker", server_default=text("'speaker'")
    )

    session: Mapped[ConferenceSession] = relationship(
        back_populates="speaker_assignments", lazy=NO_IMPLICIT_IO
    )
    speaker: Mapped[Speaker] = relationship(
        back_populates="session_assignments", lazy=NO_IMPLICIT_IO
    )


class Attendee(UUIDPrimaryKey, TenantOwned, Timestamps, Base):
    """A person registered for an event, optionally linked to a platform user."""

    __tablename__ = "attendees"
    __table_args__ = (UniqueConstraint("event_id", "email"),)

    event_id: Mapped[uuid.UUID] = fk("events.id", ondelete="CASCADE", nullable=False)
    user_id: Mapped[uuid.UUID | None] = fk("users.id", ondelete="SET NULL", nullable=True)
    name: Mapped[str] = mapped_column(String(255))
    email: Mapped[str] = mapped_column(String(320))
    company: Mapped[str | None] = mapped_column(String(255))
    attendee_type: Mapped[AttendeeType] = mapped_column(
        text_enum(AttendeeType, "attendee_type"), default=AttendeeType.GENERAL
    )
    status: Mapped[AttendeeStatus] = mapped_column(
        text_enum(AttendeeStatus, "attendee_status"), default=AttendeeStatus.REGISTERED
    )
    profile: Mapped[dict[str, Any]] = mapped_column(
        default=dict, server_default=text("'{}'::jsonb")
    )

    event: Mapped[Event] = relationship(back_populates="attendees", lazy=NO_IMPLICIT_IO)
    session_attendance: Mapped[list[SessionAttendance]] = relationship(
        back_populates="attendee",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy=NO_IMPLICIT_IO,
    )
    orders: Mapped[list[Order]] = relationship(
        back_populates="attendee", passive_deletes=True, lazy=NO_IMPLICIT_IO
    )


class SessionAttendance(UUIDPrimaryKey, TenantOwned, Timestamps, Base):
    """An attendee's registration for, and check-in to, one session (seed 001)."""

    __tablename__ = "session_attendance"
    __table_args__ = (UniqueConstraint("session_id", "attendee_id"),)

    session_id: Mapped[uuid.UUID] = fk("conference_sessions.id", ondelete="CASCADE", nullable=False)
    attendee_id: Mapped[uuid.UUID] = fk("attendees.id", ondelete="CASCADE", nullable=False)
    registered_at: Mapped[datetime] = mapped_column(server_default=func.now())
    checked_in_at: Mapped[datetime | None]

    session: Mapped[ConferenceSession] = relationship(
        back_populates="attendance", lazy=NO_IMPLICIT_IO
    )
    attendee: Mapped[Attendee] = relationship(
        back_populates="session_attendance", lazy=NO_IMPLICIT_IO
    )


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


class Ticket(UUIDPrimaryKey, TenantOwned, Timestamps, Base):
    """A ticket type of an event with its price and stock; ``quantity_total`` NULL = unlimited."""

    __tablename__ = "tickets"
    __table_args__ = (
        CheckConstraint("price >= 0", name="price_nonnegative"),
        CheckConstraint("quantity_total >= 0", name="quantity_total_nonnegative"),
        CheckConstraint("quantity_sold >= 0", name="quantity_sold_nonnegative"),
        CheckConstraint(
            "quantity_total IS NULL OR quantity_sold <= quantity_total", name="not_oversold"
        ),
        CheckConstraint("sales_end > sales_start", name="sales_window_ordered"),
    )

    event_id: Mapped[uuid.UUID] = fk("events.id", ondelete="CASCADE", nullable=False)
    name: Mapped[str] = mapped_column(String(255))
    ticket_type: Mapped[TicketType] = mapped_column(
        text_enum(TicketType, "ticket_type"), default=TicketType.GENERAL
    )
    price: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    currency: Mapped[str] = mapped_column(String(3), default="USD", server_default=text("'USD'"))
    quantity_total: Mapped[int | None] = mapped_column(Integer)
    quantity_sold: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    sales_start: Mapped[datetime | None]
    sales_end: Mapped[datetime | None]

    event: Mapped[Event] = relationship(back_populates="tickets", lazy=NO_IMPLICIT_IO)
    order_items: Mapped[list[OrderItem]] = relationship(
        back_populates="ticket", passive_deletes="all", lazy=NO_IMPLICIT_IO
    )


class Order(UUIDPrimaryKey, TenantOwned, Timestamps, Base):
    """A ticket order for an event; it outlives the attendee record that placed it."""

    __tablename__ = "orders"
    __table_args__ = (CheckConstraint("total_amount >= 0", name="total_amount_nonnegative"),)

    event_id: Mapped[uuid.UUID] = fk("events.id", ondelete="CASCADE", nullable=False)
    attendee_id: Mapped[uuid.UUID | None] = fk("attendees.id", ondelete="SET NULL", nullable=True)
    status: Mapped[OrderStatus] = mapped_column(
        text_enum(OrderStatus, "order_status"), default=OrderStatus.PENDING
    )
    total_amount: Mapped[Decimal] = mapped_column(
        Numeric(12, 2), default=Decimal("0"), server_default=text("0")
    )
    currency: Mapped[str] = mapped_column(String(3), default="USD", server_default=text("'USD'"))
    placed_at: Mapped[datetime] = mapped_column(server_default=func.now())

    event: Mapped[Event] = relationship(back_populates="orders", lazy=NO_IMPLICIT_IO)
    attendee: Mapped[Attendee | None] = relationship(back_populates="orders", lazy=NO_IMPLICIT_IO)
    items: Mapped[list[OrderItem]] = relationship(
        back_populates="order",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy=NO_IMPLICIT_IO,
    )
    payments: Mapped[list[Payment]] = relationship(
        back_populates="order",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy=NO_IMPLICIT_IO,
    )


class OrderItem(UUIDPrimaryKey, TenantOwned, Timestamps, Base):
    """A line of an order; a ticket type that has been sold cannot be deleted."""

    __tablename__ = "order_items"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("unit_price >= 0", name="unit_price_nonnegative"),
    )

    order_id: Mapped[uuid.UUID] = fk("orders.id", ondelete="CASCADE", nullable=False)
    # Not RESTRICT: PostgreSQL checks RESTRICT (and non-deferred NO ACTION) inside the cascade,
    # so deleting an event or tenant with sold tickets would fail. Deferred, a sold ticket type
    # still cannot be deleted on its own (the check fails at commit).
    ticket_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tickets.id", ondelete="NO ACTION", deferrable=True, initially="DEFERRED"),
        nullable=False,
        index=True,
    )
    quantity: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))
    unit_price: Mapped[Decimal] = mapped_column(Numeric(12, 2))

    order: Mapped[Order] = relationship(back_populates="items", lazy=NO_IMPLICIT_IO)
    ticket: Mapped[Ticket] = relationship(back_populates="order_items", lazy=NO_IMPLICIT_IO)


class Payment(UUIDPrimaryKey, TenantOwned, Timestamps, Base):
    """A payment attempt against an order at an external provider."""

    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        UniqueConstraint("provider", "provider_reference"),
    )

    order_id: Mapped[uuid.UUID] = fk("orders.id", ondelete="CASCADE", nullable=False)
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    currency: Mapped[str] = mapped_column(String(3), default="USD", server_default=text("'USD'"))
    provider: Mapped[str] = mapped_column(String(50))
    provider_reference: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[PaymentStatus] = mapped_column(
        text_enum(PaymentStatus, "payment_status"), default=PaymentStatus.PENDING
    )
    paid_at: Mapped[datetime | None]
    details: Mapped[dict[str, Any]] = mapped_column(
        default=dict, server_default=text("'{}'::jsonb")
    )

    order: Mapped[Order] = relationship(back_populates="payments", lazy=NO_IMPLICIT_IO)


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
