"""One rule firing for one trigger, exactly once, with loops refused.

A firing is the ``automation_firings`` row of ``(rule, trigger key)``: the key is
``event:<event id>`` or ``schedule:<slot>``, unique per rule. Its insert, the action, the
SYSTEM event that reports it, its audit row and the rule's counters are one transaction; a
second attempt at the same trigger (a redelivered sweep, two sweeps at once) finds the row and
does nothing, and a concurrent one waits for the first to commit, then finds it. The action's
own submission uses ``automation:<rule id>:<key>`` as its idempotency key too.

Depth: a firing on an ordinary event or a schedule slot has depth 1; an event caused by a
firing (an event of the task or execution it started) has that firing's depth, and a firing on
it one more. A trigger whose depth is already ``automation_max_depth`` fires nothing: the
firing is recorded as ``refused``. The events the firings themselves write (their data has an
``automation_firing`` key) trigger no rule.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from models import (
    AuditLog,
    AutomationFiring,
    AutomationRule,
    EventType,
    FiringStatus,
)
from worker.automation.actions import Outcome, perform
from worker.automation.store import StoredRule
from worker.core.errors import AgentWorkerError
from worker.core.settings import Settings
from worker.durable import records
from worker.durable.publishing import Publisher
from worker.durable.rows import insert_once

__all__ = ["FIRING_EVENT_KEY", "Fired", "Trigger", "fire"]

log = logging.getLogger(__name__)

_firings: sa.Table = AutomationFiring.__table__  # type: ignore[assignment]
_rules: sa.Table = AutomationRule.__table__  # type: ignore[assignment]

#: The data key of the events firings write; such events trigger no rule.
FIRING_EVENT_KEY = "automation_firing"

_audit_logs: sa.Table = AuditLog.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class Trigger:
    """What a rule fires on: an event (its id and depth) or a schedule slot."""

    key: str
    depth: int
    context: dict[str, Any]
    event_log_id: int | None = None
    slot: datetime | None = None

    @classmethod
    def of_event(cls, event: dict[str, Any], depth: int) -> Trigger:
        return cls(f"event:{event['id']}", depth, {"event": event}, event_log_id=event["id"])

    @classmethod
    def of_slot(cls, slot: datetime) -> Trigger:
        return cls(f"schedule:{slot.isoformat()}", 0, {"slot": slot.isoformat()}, slot=slot)


@dataclass(frozen=True)
class Fired:
    firing_id: uuid.UUID
    rule_id: uuid.UUID
    status: FiringStatus
    depth: int
    #: False when the trigger had fired this rule before (nothing was done this time).
    created: bool
    task_id: uuid.UUID | None = None
    workflow_execution_id: uuid.UUID | None = None
    communication_id: uuid.UUID | None = None
    error: str | None = None


def fire(
    engine: sa.Engine,
    publisher: Publisher,
    settings: Settings,
    rule: StoredRule,
    trigger: Trigger,
) -> Fired:
    """Fire ``rule`` for ``trigger`` unless it has been (inside the rule's tenant scope)."""
    depth = trigger.depth + 1
    refused = trigger.depth >= settings.automation_max_depth
    with engine.begin() as connection:
        inserted = insert_once(
            connection,
            _firings,
            {
                "tenant_id": rule.tenant_id,
                "rule_id": rule.id,
                "idempotency_key": trigger.key,
                "status": FiringStatus.REFUSED if refused else FiringStatus.FIRED,
                "event_log_id": trigger.event_log_id,
                "schedule_slot": trigger.slot,
                "depth": depth,
                "action": rule.definition.action,
            },
            key=["rule_id", "idempotency_key"],
            returning=[_firings.c.id, _firings.c.status, _firings.c.depth, _firings.c.error],
        )
        row = inserted.row
        if not inserted.created:
            return Fired(
                row.id, rule.id, FiringStatus(row.status), row.depth, False, error=row.error
            )
        outcome, error = Outcome(), None
        if refused:
            error = (
                f"refused: the trigger was caused by a chain of {trigger.depth} rule firings "
                f"(the limit, AGENTWORKER_AUTOMATION_MAX_DEPTH, is "
                f"{settings.automation_max_depth}); the rule's action would trigger it again"
            )
        else:
            outcome, error = _act(connection, settings, rule, row.id, trigger, depth)
        status = (
            FiringStatus.REFUSED
            if refused
            else FiringStatus.FAILED
            if error
            else FiringStatus.FIRED
        )
        fired = Fired(
            row.id,
            rule.id,
            status,
            depth,
            True,
            outcome.task_id,
            outcome.workflow_execution_id,
            outcome.communication_id,
            error,
        )
        _record(connection, rule, trigger, fired)
    for message in outcome.publish:
        message.send(publisher)
    log.info(
        "automation rule fired",
        extra={"tenant": str(rule.tenant_id), "rule": rule.definition.name, "status": status},
    )
    return fired


def _act(
    connection: sa.Connection,
    settings: Settings,
    rule: StoredRule,
    firing_id: uuid.UUID,
    trigger: Trigger,
    depth: int,
) -> tuple[Outcome, str | None]:
    savepoint = connection.begin_nested()
    try:
        outcome = perform(
            connection,
            settings,
            rule,
            firing_id=firing_id,
            key=trigger.key,
            depth=depth,
            context=trigger.context,
        )
    except AgentWorkerError as error:
        savepoint.rollback()
        return Outcome(), f"{rule.definition.action} failed: {error}"
    savepoint.commit()
    return outcome, None


def _record(connection: sa.Connection, rule: StoredRule, trigger: Trigger, fired: Fired) -> None:
    """The firing's row completed, its SYSTEM event, its audit row, the rule's counters."""
    connection.execute(
        sa.update(_firings)
        .where(_firings.c.id == fired.firing_id)
        .values(
            status=fired.status,
            task_id=fired.task_id,
            workflow_execution_id=fired.workflow_execution_id,
            communication_id=fired.communication_id,
            error=fired.error,
        )
    )
    name = rule.definition.name
    summary = {
        "rule_id": str(rule.id),
        "rule": name,
        "firing_id": str(fired.firing_id),
        "status": str(fired.status),
        "depth": fired.depth,
        "trigger": trigger.key,
        "action": rule.definition.action,
        "task_id": str(fired.task_id) if fired.task_id else None,
        "workflow_execution_id": (
            str(fired.workflow_execution_id) if fired.workflow_execution_id else None
        ),
        "communication_id": str(fired.communication_id) if fired.communication_id else None,
        "error": fired.error,
    }
    text = {
        FiringStatus.FIRED: f"automation rule '{name}' fired ({rule.definition.action})",
        FiringStatus.FAILED: f"automation rule '{name}' failed: {fired.error}",
        FiringStatus.REFUSED: f"automation rule '{name}' {fired.error}",
    }[fired.status]
    scope = records.Scope(
        tenant_id=rule.tenant_id,
        task_id=fired.task_id,
        workflow_execution_id=fired.workflow_execution_id,
    )
    records.write(
        connection,
        events=[records.event(scope, EventType.SYSTEM, text, {FIRING_EVENT_KEY: summary})],
    )
    connection.execute(
        sa.insert(_audit_logs).values(
            tenant_id=rule.tenant_id,
            actor="automation",
            action=f"automation.{fired.status}",
            resource_type="automation_rule",
            resource_id=str(rule.id),
            changes=records.scrub(summary),
            metadata={"rule": name},
        )
    )
    if fired.status is FiringStatus.REFUSED:
        return
    counts = connection.execute(
        sa.select(
            sa.func.count().label("runs"),
            sa.func.count().filter(_firings.c.status == FiringStatus.FIRED).label("ok"),
        ).where(
            _firings.c.rule_id == rule.id,
            _firings.c.status.in_([FiringStatus.FIRED, FiringStatus.FAILED]),
        )
    ).one()
    rate = (Decimal(counts.ok) / Decimal(counts.runs)).quantize(Decimal("0.01"))
    connection.execute(
        sa.update(_rules)
        .where(_rules.c.id == rule.id)
        .values(execution_count=counts.runs, success_rate=rate, last_executed_at=sa.func.now())
    )
