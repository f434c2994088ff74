"""The rule sweep (Celery beat, ``automation.sweep``): for every tenant with active rules, the
events written since its cursor, in commit-safe order (``worker.durable.event_order``), each
matched against the tenant's event rules; then each schedule rule's due slot.

The cursor moves on after the batch's firings have committed; a sweep that dies in between
reads the same events again and their firings are found, not repeated (``firing``). Two sweeps
at once fire nothing twice either, and the cursor only ever moves forward.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from models import AutomationCursor, AutomationFiring, EventLog, Task
from models.tenant_scope import tenant_scope
from worker.automation.conditions import matches
from worker.automation.firing import FIRING_EVENT_KEY, Fired, Trigger, fire
from worker.automation.store import StoredRule, active_rules, ensure_cursor
from worker.core.settings import Settings
from worker.durable import event_order, records
from worker.durable.event_order import Cursor
from worker.durable.publishing import Publisher

__all__ = [
    "SweepReport",
    "automation_tenants",
    "event_depths",
    "event_subject",
    "fire_due_slots",
    "fire_events",
    "read_events",
    "rule_matches",
    "sweep",
]

_cursors: sa.Table = AutomationCursor.__table__  # type: ignore[assignment]
_firings: sa.Table = AutomationFiring.__table__  # type: ignore[assignment]


@dataclass
class SweepReport:
    events_read: int = 0
    #: firing status -> how many firings this sweep made
    firings: Counter[str] = field(default_factory=Counter)
    #: triggers that had fired their rule before (a repeated read)
    repeated: int = 0

    def add(self, fired: Fired) -> None:
        if fired.created:
            self.firings[str(fired.status)] += 1
        else:
            self.repeated += 1


def automation_tenants(engine: sa.Engine) -> list[uuid.UUID]:
    """Tenants with active rules (ids only: ``agentworker_automation_tenants``)."""
    with engine.begin() as connection:
        return list(
            connection.scalars(sa.text("SELECT tenant_id FROM agentworker_automation_tenants()"))
        )


def sweep(
    engine: sa.Engine,
    publisher: Publisher,
    settings: Settings,
    *,
    now: datetime | None = None,
    batch: int = 500,
    max_batches: int = 10,
) -> SweepReport:
    report = SweepReport()
    for tenant_id in automation_tenants(engine):
        with tenant_scope(tenant_id):
            with engine.begin() as connection:
                rules = active_rules(connection, tenant_id)
            fire_events(engine, publisher, settings, tenant_id, rules, report, batch, max_batches)
            fire_due_slots(engine, publisher, settings, rules, now or records.now(), report)
    return report


def fire_events(
    engine: sa.Engine,
    publisher: Publisher,
    settings: Settings,
    tenant_id: uuid.UUID,
    rules: Sequence[StoredRule],
    report: SweepReport,
    batch: int = 500,
    max_batches: int = 10,
) -> None:
    """Fire the tenant's event rules on the events after its cursor (inside its scope)."""
    on_events = [rule for rule in rules if rule.definition.schedule is None]
    for _ in range(max_batches):
        with engine.begin() as connection:
            cursor = _cursor(connection, tenant_id)
            events, last = read_events(connection, tenant_id, cursor, batch)
            depths = event_depths(connection, events)
        report.events_read += len(events)
        for event in events:
            for rule in rule_matches(on_events, event):
                report.add(
                    fire(
                        engine,
                        publisher,
                        settings,
                        rule,
                        Trigger.of_event(event, depths[event["id"]]),
                    )
                )
        if last is None:
            return
        with engine.begin() as connection:
            _advance(connection, tenant_id, last)
        if len(events) < batch:
            return


def fire_due_slots(
    engine: sa.Engine,
    publisher: Publisher,
    settings: Settings,
    rules: Sequence[StoredRule],
    now: datetime,
    report: SweepReport,
) -> None:
    """Fire each schedule rule for its slot due at ``now`` (once per slot)."""
    for rule in rules:
        schedule = rule.definition.schedule
        if schedule is None:
            continue
        slot = schedule.due_slot(now)
        if slot is not None:
            report.add(fire(engine, publisher, settings, rule, Trigger.of_slot(slot)))


def rule_matches(rules: Iterable[StoredRule], event: dict[str, Any]) -> list[StoredRule]:
    """The rules ``event`` triggers: of its type, written since the rule exists, its
    condition holding; never a firing's own event."""
    if FIRING_EVENT_KEY in (event.get("data") or {}):
        return []
    return [
        rule
        for rule in rules
        if event["event_type"] in rule.definition.event_types
        and event["created_at"] >= rule.created_at
        and matches(rule.definition.condition, event)
    ]


def read_events(
    connection: sa.Connection, tenant_id: uuid.UUID, cursor: Cursor, limit: int
) -> tuple[list[dict[str, Any]], Cursor | None]:
    """Up to ``limit`` settled events after ``cursor``, as condition subjects, and the cursor
    of the last one (None: nothing new)."""
    rows = connection.execute(
        sa.select(EventLog, event_order.WRITER.label("writer"))
        .where(EventLog.tenant_id == tenant_id, event_order.settled(), event_order.after(cursor))
        .order_by(*event_order.ORDER)
        .limit(limit)
    ).all()
    if not rows:
        return [], None
    last = rows[-1]
    return [event_subject(row) for row in rows], Cursor(int(last.writer), int(last.id))


def event_subject(row: Any) -> dict[str, Any]:
    """An event as rule conditions and action templates see it."""
    return {
        "id": row.id,
        "event_type": str(row.event_type),
        "content": row.content,
        "agent_role": row.agent_role,
        "task_id": str(row.task_id) if row.task_id else None,
        "agent_run_id": str(row.agent_run_id) if row.agent_run_id else None,
        "workflow_execution_id": (
            str(row.workflow_execution_id) if row.workflow_execution_id else None
        ),
        "data": row.data or {},
        "created_at": row.created_at,
    }


def event_depths(connection: sa.Connection, events: Sequence[dict[str, Any]]) -> dict[int, int]:
    """Each event's depth: that of the firing that started its task or execution (also a
    workflow step's task), else 0."""
    task_ids = {uuid.UUID(e["task_id"]) for e in events if e["task_id"]}
    execution_ids = {
        uuid.UUID(e["workflow_execution_id"]) for e in events if e["workflow_execution_id"]
    }
    task_execution: dict[uuid.UUID, uuid.UUID] = {}
    task_depth: dict[uuid.UUID, int] = {}
    if task_ids:
        for row in connection.execute(
            sa.select(Task.id, Task.workflow_execution_id, Task.metadata_.label("carried")).where(
                Task.id.in_(task_ids)
            )
        ):
            if row.workflow_execution_id:
                task_execution[row.id] = row.workflow_execution_id
                execution_ids.add(row.workflow_execution_id)
            carried = (row.carried or {}).get("automation")
            if isinstance(carried, dict) and isinstance(carried.get("depth"), int):
                task_depth[row.id] = carried["depth"]
    execution_depth: dict[uuid.UUID, int] = {}
    if task_ids or execution_ids:
        for row in connection.execute(
            sa.select(_firings.c.task_id, _firings.c.workflow_execution_id, _firings.c.depth).where(
                sa.or_(
                    _firings.c.task_id.in_(task_ids),
                    _firings.c.workflow_execution_id.in_(execution_ids),
                )
            )
        ):
            if row.task_id:
                task_depth[row.task_id] = max(task_depth.get(row.task_id, 0), row.depth)
            if row.workflow_execution_id:
                execution_depth[row.workflow_execution_id] = max(
                    execution_depth.get(row.workflow_execution_id, 0), row.depth
                )
    depths: dict[int, int] = {}
    for event in events:
        task = uuid.UUID(event["task_id"]) if event["task_id"] else None
        execution = (
            uuid.UUID(event["workflow_execution_id"]) if event["workflow_execution_id"] else None
        ) or (task_execution.get(task) if task else None)
        depths[event["id"]] = max(
            task_depth.get(task, 0) if task else 0,
            execution_depth.get(execution, 0) if execution else 0,
        )
    return depths


def _cursor(connection: sa.Connection, tenant_id: uuid.UUID) -> Cursor:
    row = connection.execute(
        sa.select(_cursors.c.writer_xid, _cursors.c.event_id).where(
            _cursors.c.tenant_id == tenant_id
        )
    ).one_or_none()
    if row is None:
        ensure_cursor(connection, tenant_id)
        return _cursor(connection, tenant_id)
    return Cursor(int(row.writer_xid), int(row.event_id))


def _advance(connection: sa.Connection, tenant_id: uuid.UUID, last: Cursor) -> None:
    """Move the cursor to ``last``, never back (a slower sweep may finish after a faster)."""
    connection.execute(
        sa.update(_cursors)
        .where(
            _cursors.c.tenant_id == tenant_id,
            sa.tuple_(_cursors.c.writer_xid, _cursors.c.event_id)
            < sa.tuple_(sa.literal(last.xid, sa.BigInteger), sa.literal(last.id, sa.BigInteger)),
        )
        .values(writer_xid=last.xid, event_id=last.id)
    )
