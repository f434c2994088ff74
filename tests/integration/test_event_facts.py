"""``event_facts``: the figures of seed 001's event-management tables for one event, counted
from rows made with RowFactory, and, called by an agent with no event named, those of the
task's event (the demo's budget planner is given it).
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from models.tenant_scope import tenant_scope
from tests.integration import test_ai_outputs as ai_outputs
from tests.support.rows import RowFactory
from worker.agents.tools import ToolContext
from worker.agents.tools.event_facts import event_facts
from worker.dev.seed import DEMO_AGENTS

Harness = ai_outputs.Harness
harness = ai_outputs.harness  # the fixture, shared rather than copied


def _event(connection: sa.Connection) -> tuple[uuid.UUID, uuid.UUID]:
    """An event with a known programme, sales and sponsorship; (tenant, event)."""
    rows = RowFactory(connection)
    event = rows.insert("events", name="FactConf", currency="EUR")
    keynotes, workshops = (rows.insert("tracks", event_id=event, name=n) for n in ("A", "B"))
    start = datetime(2027, 5, 18, 9, tzinfo=UTC)
    sessions = [
        rows.insert(
            "conference_sessions",
            event_id=event,
            track_id=keynotes,
            starts_at=start,
            ends_at=start + timedelta(hours=1),
        ),
        rows.insert("conference_sessions", event_id=event, track_id=keynotes),
        rows.insert(
            "conference_sessions", event_id=event, track_id=workshops, session_type="workshop"
        ),
        rows.insert("conference_sessions", event_id=event),
    ]
    ada, bob, _ = (
        rows.insert("attendees", event_id=event, status=status)
        for status in ("registered", "checked_in", "cancelled")
    )
    rows.insert("session_attendance", session_id=sessions[0], attendee_id=ada)
    rows.insert("session_attendance", session_id=sessions[1], attendee_id=ada)
    rows.insert("session_attendance", session_id=sessions[0], attendee_id=bob, checked_in_at=start)
    general = rows.insert(
        "tickets",
        event_id=event,
        name="General",
        ticket_type="general",
        price=Decimal("100"),
        quantity_total=100,
        quantity_sold=10,
    )
    late = rows.insert(
        "tickets",
        event_id=event,
        name="Late",
        ticket_type="general",
        price=Decimal("150"),
        quantity_sold=5,
    )
    vip = rows.insert(
        "tickets",
        event_id=event,
        name="VIP",
        ticket_type="vip",
        price=Decimal("500"),
        quantity_total=20,
        quantity_sold=2,
    )
    orders = [
        rows.insert("orders", event_id=event, status=status, total_amount=Decimal(total))
        for status, total in (("paid", 200), ("paid", 500), ("refunded", 150), ("pending", 0))
    ]
    for order, ticket, quantity, price in (
        (orders[0], general, 2, 100),
        (orders[1], vip, 1, 500),
        (orders[2], late, 1, 150),
    ):
        rows.insert(
            "order_items",
            order_id=order,
            ticket_id=ticket,
            quantity=quantity,
            unit_price=Decimal(price),
        )
    sponsor = rows.insert("sponsors", event_id=event)
    for tier, price, sold_to in (
        ("gold", 10000, sponsor),
        ("gold", 10000, None),
        ("silver", 5000, None),
    ):
        rows.insert(
            "sponsorship_packages",
            event_id=event,
            tier=tier,
            price=Decimal(price),
            sponsor_id=sold_to,
        )
    # Another event of the tenant: none of its rows count.
    elsewhere = rows.insert("events")
    rows.insert("conference_sessions", event_id=elsewhere)
    rows.insert("tickets", event_id=elsewhere, price=Decimal("1"), quantity_sold=7)
    return rows.tenant_id, event


def test_event_facts_counts_the_events_rows(harness: Harness) -> None:
    with harness.engine.begin() as connection:
        tenant_id, event = _event(connection)
    context = ToolContext(
        tenant_id=tenant_id,
        task_id=uuid.uuid4(),
        agent_run_id=None,
        agent_name="direct",
        session_factory=sessionmaker(bind=harness.runtime.engine),
    )

    with tenant_scope(tenant_id):
        facts = json.loads(json.dumps(event_facts(context, str(event))))

    assert facts["event"] == {"id": str(event), "name": "FactConf", "currency": "EUR"}
    assert facts["sessions"] == {
        "count": 4,
        "by_track": {"(no track)": 1, "A": 2, "B": 1},
        "by_type": {"talk": 3, "workshop": 1},
        "by_status": {"scheduled": 1, "unscheduled": 3},
    }
    assert facts["attendance"] == {
        "attendees": 3,
        "attendees_by_status": {"registered": 1, "checked_in": 1, "cancelled": 1},
        "session_registrations": 3,
        "session_check_ins": 1,
        "attendees_in_sessions": 2,
    }
    tickets = facts["tickets"]
    assert (tickets["count"], tickets["sold"]) == (3, 17)
    assert tickets["by_type"]["general"] == {
        "tickets": [
            {"name": "General", "price": "100.00", "currency": "USD", "quantity": 100, "sold": 10},
            {"name": "Late", "price": "150.00", "currency": "USD", "quantity": None, "sold": 5},
        ],
        "quantity": 100,
        "sold": 15,
        "unlimited": True,
    }
    assert tickets["by_type"]["vip"]["sold"] == 2
    assert facts["orders"] == {
        "count": 4,
        "by_status": {
            "paid": {"count": 2, "revenue": {"USD": "700.00"}},
            "pending": {"count": 1, "revenue": {"USD": "0.00"}},
            "refunded": {"count": 1, "revenue": {"USD": "150.00"}},
        },
    }
    assert facts["order_items"] == {
        "count": 3,
        "quantity": 4,
        "by_ticket_type": {
            "general": {"lines": 2, "quantity": 3, "value": {"USD": "350.00"}},
            "vip": {"lines": 1, "quantity": 1, "value": {"USD": "500.00"}},
        },
    }
    assert facts["sponsorship_packages"] == {
        "offered": 3,
        "sold": 1,
        "by_tier": {
            "gold": {
                "offered": 2,
                "sold": 1,
                "offered_value": "20000.00",
                "sold_value": "10000.00",
            },
            "silver": {"offered": 1, "sold": 0, "offered_value": "5000.00", "sold_value": "0.00"},
        },
    }


def test_an_agent_reads_the_facts_of_its_tasks_event(harness: Harness) -> None:
    harness.agent("planner", ["event_facts"])
    task_id = harness.run("planner")

    (content,) = harness.tool_messages(task_id)
    facts = json.loads(content)
    (event,) = harness.rows("SELECT id, name FROM events")
    assert facts["event"]["id"] == str(event.id) and facts["event"]["name"] == event.name
    assert facts["sessions"]["count"] == 0 and facts["orders"]["count"] == 0
    (planner,) = (a for a in DEMO_AGENTS if a["name"] == "budget_planner")
    assert "event_facts" in planner["configuration"]["tools"]
