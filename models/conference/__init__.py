"""The conference domain of seeds 000 and 001: events, venues, programme, people, sales,
budgets and contracts, one module per sub-system (``events``, ``programme``, ``attendees``,
``sponsors``, ``sales``, ``finance``).

Every table carries its own ``tenant_id``, including children that could reach the tenant
through a parent, so tenant filtering never needs a join. Relationships across these modules
name their targets in annotations only (imported under ``TYPE_CHECKING``); SQLAlchemy resolves
them by class name once every module is imported, which importing this package does.
"""

from __future__ import annotations

from models.conference.attendees import (
    Attendee,
    AttendeeStatus,
    AttendeeType,
    SessionAttendance,
)
from models.conference.events import (
    Event,
    EventStatus,
    Room,
    Venue,
    VenueStatus,
)
from models.conference.finance import (
    Budget,
    BudgetCategory,
    BudgetLineItem,
    BudgetStatus,
    Contract,
    ContractStatus,
    CounterpartyType,
)
from models.conference.programme import (
    ConferenceSession,
    SessionSpeaker,
    SessionType,
    Speaker,
    SpeakerStatus,
    Track,
)
from models.conference.sales import (
    Order,
    OrderItem,
    OrderStatus,
    Payment,
    PaymentStatus,
    Ticket,
    TicketType,
)
from models.conference.sponsors import (
    Sponsor,
    SponsorshipPackage,
    SponsorStatus,
    SponsorTier,
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
