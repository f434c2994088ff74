"""What retention keeps: the policies, their defaults, and a tenant's overrides.

The defaults live here and only here (``POLICIES``). Seed 001's four policies keep its ages;
the history tables we grow are configurable like them. An override is a ``system_settings``
row whose key is ``retention.<policy>`` and whose value is an object::

    {"keep_days": 30}        # keep 30 days instead of the default
    {"enabled": false}       # never delete for this policy

A row with ``tenant_id`` NULL is the system-wide value; a tenant's row overrides it for that
tenant only. ``save_override`` validates before it writes; an invalid row written some other
way is refused when it is read (``RetentionSettingError``, naming the key and the fix).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from typing import Any

import sqlalchemy as sa

from models import SystemSetting
from worker.core.errors import ConfigurationError

__all__ = [
    "POLICIES",
    "SETTING_PREFIX",
    "Policy",
    "RetentionSettingError",
    "effective_policies",
    "parse_override",
    "policy_named",
    "save_override",
]

SETTING_PREFIX = "retention."
_FINAL_TASK = "('SUCCEEDED', 'FAILED', 'CANCELLED')"
_FINAL_EXECUTION = "('completed', 'failed', 'cancelled')"
# A row is left alone while an unfinished task or execution still references it.
_NOT_OF_OPEN_WORK = (
    "NOT EXISTS (SELECT 1 FROM tasks t WHERE t.id = {alias}.task_id"
    f" AND t.status NOT IN {_FINAL_TASK})"
)


@dataclass(frozen=True)
class Policy:
    """Delete rows of ``table`` whose ``age_column`` is older than ``keep_days`` (strictly:
    a row exactly at the cutoff is kept) and that satisfy ``condition`` (SQL over alias
    ``r``), ``batch_size`` rows per short transaction."""

    name: str
    table: str
    age_column: str
    keep_days: int
    description: str
    condition: str = "true"
    batch_size: int = 1000
    enabled: bool = True
    #: Whether the table holds rows of no tenant (``tenant_id`` NULL): swept with the
    #: system-wide policy in a pass of their own.
    shared_rows: bool = False
    #: The smallest ``keep_days`` an override may set.
    min_keep_days: int = 1

    @property
    def setting_key(self) -> str:
        return SETTING_PREFIX + self.name


POLICIES: tuple[Policy, ...] = (
    Policy(
        "performance_metrics",
        "ai_performance_metrics",
        "r.measurement_timestamp",
        730,
        "seed 001: AI performance data, kept 2 years",
        shared_rows=True,
    ),
    Policy(
        "error_logs",
        "ai_error_logs",
        "r.created_at",
        365,
        "seed 001: AI error logs, kept 1 year",
        shared_rows=True,
    ),
    Policy(
        "training_data",
        "ai_training_data",
        "r.created_at",
        1825,
        "seed 001: AI training data, kept 5 years",
    ),
    Policy(
        "expired_recommendations",
        "ai_recommendations",
        "r.expires_at",
        0,
        "seed 001: recommendations, deleted once expired (daily)",
        condition="r.expires_at IS NOT NULL",
        min_keep_days=0,
    ),
    Policy(
        "event_logs",
        "event_logs",
        "r.created_at",
        90,
        "events, except those of unfinished tasks and executions",
        condition=_NOT_OF_OPEN_WORK.format(alias="r")
        + " AND NOT EXISTS (SELECT 1 FROM ai_workflow_executions x"
        f" WHERE x.id = r.workflow_execution_id AND x.status NOT IN {_FINAL_EXECUTION})",
        batch_size=2000,
    ),
    Policy(
        "action_logs",
        "action_logs",
        "r.created_at",
        90,
        "tool actions, except those of unfinished tasks",
        condition=_NOT_OF_OPEN_WORK.format(alias="r"),
    ),
    Policy(
        "finished_tasks",
        "tasks",
        # A final task's last change is its finish; (status, updated_at) is indexed.
        "r.updated_at",
        180,
        "final tasks unchanged this long, with their runs, events and actions; never one of "
        "an unfinished execution or with a pending approval",
        condition=f"r.status IN {_FINAL_TASK}"
        " AND NOT EXISTS (SELECT 1 FROM ai_workflow_executions x"
        f" WHERE x.id = r.workflow_execution_id AND x.status NOT IN {_FINAL_EXECUTION})"
        " AND NOT EXISTS (SELECT 1 FROM approvals a WHERE a.task_id = r.id"
        " AND a.status = 'pending')",
        # Each task takes its runs, events and actions with it (ON DELETE CASCADE).
        batch_size=100,
    ),
    Policy(
        "webhook_deliveries",
        "webhook_deliveries",
        "coalesce(r.delivered_at, r.last_attempt_at, r.updated_at)",
        30,
        "webhook deliveries that succeeded or failed for good; never a pending one",
        condition="r.status IN ('succeeded', 'failed')",
    ),
)

_BY_NAME = {policy.name: policy for policy in POLICIES}


class RetentionSettingError(ConfigurationError):
    code = "retention_setting"


def policy_named(name: str) -> Policy:
    try:
        return _BY_NAME[name]
    except KeyError:
        raise RetentionSettingError(
            f"no retention policy {name!r}: use one of {', '.join(_BY_NAME)}"
        ) from None


def parse_override(policy: Policy, value: Any, *, where: str) -> Policy:
    """``policy`` with the override ``value`` applied; ``where`` names the row in errors."""
    fix = (
        f'set it to {{"keep_days": N}} (N a whole number ≥ {policy.min_keep_days}) or '
        '{"enabled": false}, e.g. with `agentworker retention set`'
    )
    if not isinstance(value, dict) or not value or set(value) - {"keep_days", "enabled"}:
        raise RetentionSettingError(f"{where}: {value!r} is not a retention override; {fix}")
    changed = policy
    if "keep_days" in value:
        days = value["keep_days"]
        if isinstance(days, bool) or not isinstance(days, int) or days < policy.min_keep_days:
            raise RetentionSettingError(
                f"{where}: keep_days must be a whole number of days ≥ "
                f"{policy.min_keep_days}, got {days!r}; {fix}"
            )
        changed = replace(changed, keep_days=days)
    if "enabled" in value:
        if not isinstance(value["enabled"], bool):
            raise RetentionSettingError(
                f"{where}: enabled must be true or false, got {value['enabled']!r}; {fix}"
            )
        changed = replace(changed, enabled=value["enabled"])
    return changed


def effective_policies(
    connection: sa.Connection, tenant_id: uuid.UUID | None
) -> tuple[Policy, ...]:
    """Every policy as it applies to ``tenant_id`` (None: the system-wide values), read on
    ``connection`` inside that tenant's scope: defaults, then the system-wide overrides, then
    the tenant's own."""
    table = SystemSetting.__table__
    rows = connection.execute(
        sa.select(table.c.tenant_id, table.c.key, table.c.value)
        .where(table.c.key.startswith(SETTING_PREFIX, autoescape=True))
        .where(sa.or_(table.c.tenant_id.is_(None), table.c.tenant_id == tenant_id))
        # System-wide first, so the tenant's row is applied last.
        .order_by(table.c.tenant_id.is_not(None), table.c.key)
    ).all()
    policies = dict(_BY_NAME)
    for owner, key, value in rows:
        where = f"system_settings {key!r} ({'system-wide' if owner is None else f'tenant {owner}'})"
        name = key[len(SETTING_PREFIX) :]
        if name not in policies:
            raise RetentionSettingError(
                f"{where}: no retention policy {name!r}; use one of {', '.join(_BY_NAME)} "
                "or delete the row"
            )
        policies[name] = parse_override(policies[name], value, where=where)
    return tuple(policies[p.name] for p in POLICIES)


def save_override(
    connection: sa.Connection,
    tenant_id: uuid.UUID | None,
    name: str,
    *,
    keep_days: int | None = None,
    enabled: bool | None = None,
) -> Policy:
    """Validate and write ``tenant_id``'s override of policy ``name`` (None: system-wide);
    the policy as it now applies at that level."""
    policy = policy_named(name)
    value: dict[str, Any] = {}
    if keep_days is not None:
        value["keep_days"] = keep_days
    if enabled is not None:
        value["enabled"] = enabled
    where = f"retention override {policy.setting_key!r}"
    changed = parse_override(policy, value, where=where)
    table = SystemSetting.__table__
    existing = connection.execute(
        sa.select(table.c.id).where(
            table.c.key == policy.setting_key,
            table.c.tenant_id.is_(None) if tenant_id is None else table.c.tenant_id == tenant_id,
        )
    ).scalar_one_or_none()
    if existing is None:
        connection.execute(
            sa.insert(table).values(
                id=uuid.uuid4(),
                tenant_id=tenant_id,
                key=policy.setting_key,
                value=value,
                description=f"retention override: {policy.description}",
            )
        )
    else:
        connection.execute(sa.update(table).where(table.c.id == existing).values(value=value))
    return changed
