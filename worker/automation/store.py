"""Saving, reading and listing a tenant's rules (``automation_rules``).

A rule is validated when saved: its document (``definition.parse_rule``) and what it names (the
agent, the workflow, the recipient must exist for the tenant). Saving a rule of a name that
exists replaces its trigger and action; its counters stay. Every save is audited.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from models import (
    AIWorkflow,
    AuditLog,
    AutomationCursor,
    AutomationRule,
    EventLog,
    TenantMembership,
    User,
    WorkflowStatus,
)
from worker.agents.definitions import find_agent
from worker.automation.definition import (
    InvalidRule,
    RuleDefinition,
    parse_rule,
    rule_from_row,
    stored_columns,
)
from worker.core.errors import AgentWorkerError
from worker.durable import event_order

__all__ = [
    "RuleView",
    "SavedRule",
    "StoredRule",
    "UnknownRule",
    "active_rules",
    "ensure_cursor",
    "find_recipient",
    "get_rule",
    "list_rules",
    "save_rule",
]

log = logging.getLogger(__name__)

_rules: sa.Table = AutomationRule.__table__  # type: ignore[assignment]
_cursors: sa.Table = AutomationCursor.__table__  # type: ignore[assignment]

_audit_logs: sa.Table = AuditLog.__table__  # type: ignore[assignment]


class UnknownRule(AgentWorkerError):
    code = "unknown_rule"


@dataclass(frozen=True)
class SavedRule:
    rule_id: uuid.UUID
    name: str
    created: bool


@dataclass(frozen=True)
class StoredRule:
    """An active rule as the sweep uses it."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    definition: RuleDefinition
    created_at: datetime


@dataclass(frozen=True)
class RuleView:
    id: uuid.UUID
    name: str
    rule_type: str
    active: bool
    trigger: str
    action: str
    execution_count: int
    success_rate: Decimal
    last_executed_at: datetime | None


@dataclass(frozen=True)
class Recipient:
    id: uuid.UUID
    email: str


def save_rule(
    connection: sa.Connection, tenant_id: uuid.UUID, document: Any, *, actor: str
) -> SavedRule:
    """Validate and store a rule (create, or replace the one of its name)."""
    rule = parse_rule(document)
    check_references(connection, tenant_id, rule)
    columns = stored_columns(rule)
    row = connection.execute(
        pg_insert(_rules)
        .values(tenant_id=tenant_id, **columns)
        .on_conflict_do_update(
            index_elements=["tenant_id", "rule_name"],
            set_={key: value for key, value in columns.items() if key != "rule_name"},
        )
        .returning(_rules.c.id, sa.literal_column("(xmax = 0)").label("created"))
    ).one()
    ensure_cursor(connection, tenant_id)
    connection.execute(
        sa.insert(_audit_logs).values(
            tenant_id=tenant_id,
            actor=actor,
            action="automation.rule_saved",
            resource_type="automation_rule",
            resource_id=str(row.id),
            changes={
                "name": rule.name,
                "trigger": columns["trigger_conditions"],
                "action": columns["action_definitions"],
                "active": rule.active,
            },
        )
    )
    return SavedRule(row.id, rule.name, bool(row.created))


def check_references(connection: sa.Connection, tenant_id: uuid.UUID, rule: RuleDefinition) -> None:
    """What the action names exists for the tenant, else ``InvalidRule`` saying what does."""
    arguments = rule.arguments
    where = f"action.{rule.action}"
    try:
        if rule.action == "run_agent":
            find_agent(connection, tenant_id, arguments["agent"])
        elif rule.action == "start_workflow":
            _find_workflow(connection, tenant_id, arguments["workflow"])
        else:
            find_recipient(connection, tenant_id, arguments["to"])
    except AgentWorkerError as error:
        if isinstance(error, InvalidRule):
            raise
        raise InvalidRule(f"{where}: {error}") from error


def _find_workflow(connection: sa.Connection, tenant_id: uuid.UUID, name: str) -> None:
    visible = sa.or_(AIWorkflow.tenant_id == tenant_id, AIWorkflow.tenant_id.is_(None))
    active = AIWorkflow.status == WorkflowStatus.ACTIVE
    found = connection.execute(
        sa.select(AIWorkflow.id).where(AIWorkflow.name == name, active, visible).limit(1)
    ).first()
    if found is None:
        known = connection.scalars(
            sa.select(AIWorkflow.name).where(active, visible).order_by(AIWorkflow.name)
        ).all()
        raise InvalidRule(
            f"action.start_workflow.workflow: unknown workflow '{name}'; active workflows: "
            + (", ".join(known) or "none (save one with `agentworker workflows save`)")
        )


def find_recipient(connection: sa.Connection, tenant_id: uuid.UUID, to: str) -> Recipient:
    """The tenant's active user named by email or id."""
    try:
        match = User.id == uuid.UUID(to)
    except ValueError:
        match = sa.func.lower(User.email) == to.lower()
    row = connection.execute(
        sa.select(User.id, User.email)
        .join(TenantMembership, TenantMembership.user_id == User.id)
        .where(TenantMembership.tenant_id == tenant_id, User.is_active.is_(True), match)
    ).first()
    if row is None:
        raise InvalidRule(
            f"action.send_communication.to: '{to}' is not an active user of this tenant; "
            "give a member's email or id (`agentworker users list`)"
        )
    return Recipient(row.id, row.email)


def ensure_cursor(connection: sa.Connection, tenant_id: uuid.UUID) -> None:
    """Start the tenant's event cursor at its latest settled event, once: rules fire on
    events written after they exist, never on the history before."""
    last = connection.execute(
        sa.select(event_order.WRITER, EventLog.id)
        .where(EventLog.tenant_id == tenant_id, event_order.settled())
        .order_by(event_order.WRITER.desc(), EventLog.id.desc())
        .limit(1)
    ).first()
    cursor = event_order.Cursor(int(last[0]), int(last[1])) if last else event_order.START
    connection.execute(
        pg_insert(_cursors)
        .values(tenant_id=tenant_id, writer_xid=cursor.xid, event_id=cursor.id)
        .on_conflict_do_nothing(index_elements=["tenant_id"])
    )


def active_rules(connection: sa.Connection, tenant_id: uuid.UUID) -> list[StoredRule]:
    rows = connection.execute(
        sa.select(_rules)
        .where(_rules.c.tenant_id == tenant_id, _rules.c.is_active.is_(True))
        .order_by(_rules.c.rule_name)
    ).all()
    stored = []
    for row in rows:
        try:
            stored.append(_stored(row))
        except InvalidRule as error:  # written around `rules save`: skipped, and said so
            log.error(
                "automation rule skipped: %s",
                error,
                extra={"tenant": str(tenant_id), "rule": row.rule_name},
            )
    return stored


def get_rule(connection: sa.Connection, tenant_id: uuid.UUID, name: str) -> StoredRule:
    row = connection.execute(
        sa.select(_rules).where(_rules.c.tenant_id == tenant_id, _rules.c.rule_name == name)
    ).one_or_none()
    if row is None:
        known = connection.scalars(
            sa.select(_rules.c.rule_name)
            .where(_rules.c.tenant_id == tenant_id)
            .order_by(_rules.c.rule_name)
        ).all()
        raise UnknownRule(
            f"unknown rule '{name}'; this tenant's rules: " + (", ".join(known) or "none")
        )
    return _stored(row)


def list_rules(connection: sa.Connection, tenant_id: uuid.UUID) -> list[RuleView]:
    rows = connection.execute(
        sa.select(_rules).where(_rules.c.tenant_id == tenant_id).order_by(_rules.c.rule_name)
    ).all()
    views = []
    for row in rows:
        try:
            rule = _stored(row).definition
            trigger, action = rule.describe_trigger(), rule.action
        except InvalidRule as error:
            trigger, action = f"invalid ({error}): save it again", "-"
        views.append(
            RuleView(
                id=row.id,
                name=row.rule_name,
                rule_type=str(row.rule_type),
                active=row.is_active,
                trigger=trigger,
                action=action,
                execution_count=row.execution_count,
                success_rate=row.success_rate,
                last_executed_at=row.last_executed_at,
            )
        )
    return views


def _stored(row: sa.Row[Any]) -> StoredRule:
    definition = rule_from_row(
        row.rule_name, row.is_active, row.trigger_conditions, row.action_definitions
    )
    return StoredRule(row.id, row.tenant_id, definition, row.created_at)
