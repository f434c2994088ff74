"""An event's programme: ``tracks``, ``conference_sessions`` (seed 000's ``session.py``,
renamed so it is not confused with a database session), ``speakers`` and who speaks where
(``session_speakers``)."""

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
    UniqueConstraint,
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
    from models.conference.attendees import SessionAttendance
    from models.conference.events import Event, Room
    from models.conference.finance import Contract

__all__ = [
    "ConferenceSession",
    "SessionSpeaker",
    "SessionType",
    "Speaker",
    "SpeakerStatus",
    "Track",
]


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
