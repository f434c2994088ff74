"""Who comes to an event: ``attendees`` (seed 000's ``attendee.py``, optionally a platform
user) and their registration for and check-in to single sessions (``session_attendance``, seed
001's SESSION_ATTENDEES)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    String,
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

if TYPE_CHECKING:
    from models.conference.events import Event
    from models.conference.programme import ConferenceSession
    from models.conference.sales import Order

__all__ = [
    "Attendee",
    "AttendeeStatus",
    "AttendeeType",
    "SessionAttendance",
]


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
