"""``event_facts``: a read-only built-in tool that tells an agent what seed 001's
event-management tables hold for an event: its programme (``conference_sessions``), who
registered for and checked in to sessions (``session_attendance``), ticket types and sales
(``tickets``), ``orders`` and their ``order_items``, and the ``sponsorship_packages`` offered and
sold. Money is given as decimal strings, per currency where rows may differ in it.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Annotated, Any

import sqlalchemy as sa
from pydantic import Field

from models import (
    Attendee,
    ConferenceSession,
    Event,
    Order,
    OrderItem,
    SessionAttendance,
    SponsorshipPackage,
    Ticket,
    Track,
)
from worker.agents.tools.events import event_for
from worker.agents.tools.specs import ToolContext

NO_TRACK = "(no track)"


def event_facts(
    context: ToolContext,
    event_id: Annotated[
        str | None, Field(description="The event's id; default: the task's event, else the latest.")
    ] = None,
) -> dict[str, Any]:
    """The event's figures: sessions by track and type, session attendance, tickets by type
    (price, quantity, sold), orders and revenue by status, order items, and sponsorship
    packages offered and sold."""
    with context.session_factory() as session:
        event = event_for(session, context, event_id)
        name, currency = session.execute(
            sa.select(Event.name, Event.currency).where(Event.id == event)
        ).one()
        return {
            "event": {"id": str(event), "name": name, "currency": currency},
            "sessions": _sessions(session, event),
            "attendance": _attendance(session, event),
            "tickets": _tickets(session, event),
            "orders": _orders(session, event),
            "order_items": _order_items(session, event),
            "sponsorship_packages": _packages(session, event),
        }


EVENT_FACT_TOOLS: list[tuple[Any, dict[str, Any]]] = [(event_facts, {})]


def _sessions(session: Any, event: uuid.UUID) -> dict[str, Any]:
    rows = session.execute(
        sa.select(
            sa.func.coalesce(Track.name, NO_TRACK).label("track"),
            ConferenceSession.session_type,
            (ConferenceSession.starts_at.is_not(None)).label("scheduled"),
            sa.func.count().label("n"),
        )
        .outerjoin(Track, Track.id == ConferenceSession.track_id)
        .where(ConferenceSession.event_id == event)
        .group_by(sa.text("1, 2, 3"))
    ).all()
    by_track: dict[str, int] = {}
    by_type: dict[str, int] = {}
    by_status = {"scheduled": 0, "unscheduled": 0}
    for row in rows:
        by_track[row.track] = by_track.get(row.track, 0) + row.n
        by_type[str(row.session_type)] = by_type.get(str(row.session_type), 0) + row.n
        by_status["scheduled" if row.scheduled else "unscheduled"] += row.n
    return {
        "count": sum(row.n for row in rows),
        "by_track": dict(sorted(by_track.items())),
        "by_type": dict(sorted(by_type.items())),
        "by_status": by_status,
    }


def _attendance(session: Any, event: uuid.UUID) -> dict[str, Any]:
    registrations = session.execute(
        sa.select(
            sa.func.count().label("registrations"),
            sa.func.count().filter(SessionAttendance.checked_in_at.is_not(None)).label("checked"),
            sa.func.count(sa.distinct(SessionAttendance.attendee_id)).label("people"),
        )
        .join(ConferenceSession, ConferenceSession.id == SessionAttendance.session_id)
        .where(ConferenceSession.event_id == event)
    ).one()
    attendees = session.execute(
        sa.select(Attendee.status, sa.func.count().label("n"))
        .where(Attendee.event_id == event)
        .group_by(Attendee.status)
    ).all()
    return {
        "attendees": sum(row.n for row in attendees),
        "attendees_by_status": {str(row.status): row.n for row in attendees},
        "session_registrations": registrations.registrations,
        "session_check_ins": registrations.checked,
        "attendees_in_sessions": registrations.people,
    }


def _tickets(session: Any, event: uuid.UUID) -> dict[str, Any]:
    rows = session.execute(
        sa.select(
            Ticket.name,
            Ticket.ticket_type,
            Ticket.price,
            Ticket.currency,
            Ticket.quantity_total,
            Ticket.quantity_sold,
        )
        .where(Ticket.event_id == event)
        .order_by(Ticket.ticket_type, Ticket.price, Ticket.name)
    ).all()
    by_type: dict[str, dict[str, Any]] = {}
    for row in rows:
        kind = by_type.setdefault(
            str(row.ticket_type), {"tickets": [], "quantity": 0, "sold": 0, "unlimited": False}
        )
        kind["tickets"].append(
            {
                "name": row.name,
                "price": _money(row.price),
                "currency": row.currency,
                "quantity": row.quantity_total,
                "sold": row.quantity_sold,
            }
        )
        kind["sold"] += row.quantity_sold
        if row.quantity_total is None:
            kind["unlimited"] = True
        else:
            kind["quantity"] += row.quantity_total
    return {
        "count": len(rows),
        "sold": sum(row.quantity_sold for row in rows),
        "by_type": by_type,
    }


def _orders(session: Any, event: uuid.UUID) -> dict[str, Any]:
    rows = session.execute(
        sa.select(
            Order.status,
            Order.currency,
            sa.func.count().label("n"),
            sa.func.sum(Order.total_amount).label("revenue"),
        )
        .where(Order.event_id == event)
        .group_by(Order.status, Order.currency)
        .order_by(Order.status, Order.currency)
    ).all()
    by_status: dict[str, dict[str, Any]] = {}
    for row in rows:
        status = by_status.setdefault(str(row.status), {"count": 0, "revenue": {}})
        status["count"] += row.n
        status["revenue"][row.currency] = _money(row.revenue)
    return {"count": sum(row.n for row in rows), "by_status": by_status}


def _order_items(session: Any, event: uuid.UUID) -> dict[str, Any]:
    rows = session.execute(
        sa.select(
            Ticket.ticket_type,
            Ticket.currency,
            sa.func.count().label("lines"),
            sa.func.sum(OrderItem.quantity).label("quantity"),
            sa.func.sum(OrderItem.quantity * OrderItem.unit_price).label("value"),
        )
        .join(Order, Order.id == OrderItem.order_id)
        .join(Ticket, Ticket.id == OrderItem.ticket_id)
        .where(Order.event_id == event)
        .group_by(Ticket.ticket_type, Ticket.currency)
        .order_by(Ticket.ticket_type, Ticket.currency)
    ).all()
    by_type: dict[str, dict[str, Any]] = {}
    for row in rows:
        kind = by_type.setdefault(str(row.ticket_type), {"lines": 0, "quantity": 0, "value": {}})
        kind["lines"] += row.lines
        kind["quantity"] += int(row.quantity or 0)
        kind["value"][row.currency] = _money(row.value)
    return {
        "count": sum(row.lines for row in rows),
        "quantity": sum(int(row.quantity or 0) for row in rows),
        "by_ticket_type": by_type,
    }


def _packages(session: Any, event: uuid.UUID) -> dict[str, Any]:
    sold = SponsorshipPackage.sponsor_id.is_not(None)
    rows = session.execute(
        sa.select(
            SponsorshipPackage.tier,
            sa.func.count().label("offered"),
            sa.func.count().filter(sold).label("sold"),
            sa.func.sum(SponsorshipPackage.price).label("offered_value"),
            sa.func.coalesce(sa.func.sum(SponsorshipPackage.price).filter(sold), 0).label(
                "sold_value"
            ),
        )
        .where(SponsorshipPackage.event_id == event)
        .group_by(SponsorshipPackage.tier)
        .order_by(SponsorshipPackage.tier)
    ).all()
    return {
        "offered": sum(row.offered for row in rows),
        "sold": sum(row.sold for row in rows),
        "by_tier": {
            str(row.tier): {
                "offered": row.offered,
                "sold": row.sold,
                "offered_value": _money(row.offered_value),
                "sold_value": _money(row.sold_value),
            }
            for row in rows
        },
    }


def _money(value: Any) -> str:
    return str(Decimal(value or 0).quantize(Decimal("0.01")))
