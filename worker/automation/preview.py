"""``rules test``: what a rule would have fired on among the tenant's recent events (or which
of its schedule's slots fell in the last day), without firing anything."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from models import AutomationFiring, AutomationRule, EventLog
from worker.automation.conditions import matches
from worker.automation.definition import RuleDefinition, parse_rule
from worker.automation.firing import FIRING_EVENT_KEY
from worker.automation.schedules import Interval
from worker.automation.store import check_references
from worker.automation.sweep import event_depths, event_subject
from worker.core.settings import Settings
from worker.durable import records

__all__ = ["Preview", "WouldFire", "preview_rule"]

_MAX_SLOTS = 50


@dataclass(frozen=True)
class WouldFire:
    trigger: str  # "event:<id>" or "schedule:<slot>"
    at: datetime
    summary: str
    depth: int
    #: "fire", "refuse" (the depth limit), or "fired before" (the saved rule has a firing)
    outcome: str


@dataclass(frozen=True)
class Preview:
    rule: RuleDefinition
    examined: int
    would_fire: tuple[WouldFire, ...]


def preview_rule(
    connection: sa.Connection,
    settings: Settings,
    tenant_id: uuid.UUID,
    document: Any,
    *,
    limit: int = 200,
    now: datetime | None = None,
) -> Preview:
    """Validate ``document`` and show what it would fire on: the last ``limit`` events, or
    the schedule's slots of the last 24 hours. Nothing is written."""
    rule = parse_rule(document)
    check_references(connection, tenant_id, rule)
    fired = _fired_before(connection, tenant_id, rule.name)
    if rule.schedule is not None:
        return _slots(rule, now or records.now(), fired)
    rows = connection.execute(
        sa.select(EventLog)
        .where(EventLog.tenant_id == tenant_id, EventLog.event_type.in_(rule.event_types))
        .order_by(EventLog.id.desc())
        .limit(limit)
    ).all()
    events = [event_subject(row) for row in reversed(rows)]
    depths = event_depths(connection, events)
    found = []
    for event in events:
        if FIRING_EVENT_KEY in event["data"] or not matches(rule.condition, event):
            continue
        key = f"event:{event['id']}"
        depth = depths[event["id"]]
        outcome = (
            "fired before"
            if key in fired
            else "refuse"
            if depth >= settings.automation_max_depth
            else "fire"
        )
        summary = f"{event['event_type']} {event['content'] or ''}".strip()
        found.append(WouldFire(key, event["created_at"], summary[:120], depth + 1, outcome))
    return Preview(rule, len(events), tuple(found))


def _slots(rule: RuleDefinition, now: datetime, fired: set[str]) -> Preview:
    assert rule.schedule is not None
    since = now - timedelta(days=1)
    slots: list[datetime] = []
    if isinstance(rule.schedule, Interval):
        slot = rule.schedule.due_slot(now)
        step = timedelta(seconds=rule.schedule.seconds)
        while slot is not None and slot > since and len(slots) < _MAX_SLOTS:
            slots.append(slot)
            slot -= step
    else:
        minute = now.replace(second=0, microsecond=0)
        while minute > since and len(slots) < _MAX_SLOTS:
            if rule.schedule.fires_at(minute):
                slots.append(minute)
            minute -= timedelta(minutes=1)
    found = []
    for slot in reversed(slots):
        key = f"schedule:{slot.isoformat()}"
        outcome = "fired before" if key in fired else "fire"
        found.append(WouldFire(key, slot, rule.schedule.describe(), 1, outcome))
    return Preview(rule, len(slots), tuple(found))


def _fired_before(connection: sa.Connection, tenant_id: uuid.UUID, name: str) -> set[str]:
    return set(
        connection.scalars(
            sa.select(AutomationFiring.idempotency_key)
            .join(AutomationRule, AutomationRule.id == AutomationFiring.rule_id)
            .where(AutomationRule.tenant_id == tenant_id, AutomationRule.rule_name == name)
        )
    )
