"""Retention's sweep: delete what the policies no longer keep, in small batches, per tenant.

Each batch is one short transaction: pick at most ``batch_size`` ids past the cutoff with
``FOR UPDATE SKIP LOCKED`` (a row another transaction holds is left for the next run), add what
they contributed to the summed figures to ``retained_totals`` (``worker.ops.retention.folds``),
delete them by id. No statement holds more than one batch's row locks, nothing rewrites a table,
and a concurrent writer (an insert of new events) never waits on a batch: new rows are never
past a cutoff, and row locks on old rows do not block inserts.

Tenants are visited one at a time inside their own scope (row-level security): a tenant's
policies (defaults, system-wide and its own ``system_settings`` overrides) apply to its rows
only. Rows of no tenant (shared performance metrics, unattributable error logs) are swept in a
last pass with the system-wide policies. A tenant whose overrides are invalid is skipped with
the error in the report; the others are still swept.

What a tenant lost is reported as one ``SYSTEM`` event of that tenant (no task, no execution)
and in the ``agentworker_retention_deleted_rows_total{policy}`` counter.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY

from models import Base, EventLog, EventType, Tenant
from models.tenant_scope import tenant_scope
from worker.ops.retention.folds import fold_batch
from worker.ops.retention.policies import (
    POLICIES,
    Policy,
    RetentionSettingError,
    effective_policies,
    policy_named,
)

__all__ = ["PolicyOutcome", "RetentionReport", "run_retention"]

log = logging.getLogger(__name__)

#: The ``agent_role`` of the events retention writes.
REPORTER = "retention"


@dataclass(frozen=True)
class PolicyOutcome:
    """One policy for one tenant (``tenant_id`` None: rows of no tenant)."""

    tenant_id: uuid.UUID | None
    policy: str
    table: str
    enabled: bool
    keep_days: int
    cutoff: datetime
    #: Rows deleted, or in a dry run the rows that would be.
    rows: int
    #: Delete transactions run (0 in a dry run).
    batches: int
    #: Whether ``max_batches`` stopped the policy with rows left to delete.
    stopped_early: bool = False


@dataclass(frozen=True)
class RetentionReport:
    dry_run: bool
    outcomes: tuple[PolicyOutcome, ...]
    #: Tenants skipped, one line each, e.g. an invalid override.
    errors: tuple[str, ...]
    seconds: float

    @property
    def rows(self) -> int:
        return sum(outcome.rows for outcome in self.outcomes)

    @property
    def batches(self) -> int:
        return sum(outcome.batches for outcome in self.outcomes)

    def by_policy(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for outcome in self.outcomes:
            totals[outcome.policy] = totals.get(outcome.policy, 0) + outcome.rows
        return totals


def run_retention(
    engine: sa.Engine,
    *,
    tenant_ids: Iterable[uuid.UUID] | None = None,
    dry_run: bool = False,
    now: datetime | None = None,
    policies: Iterable[str] | None = None,
    batch_size: int | None = None,
    max_batches: int | None = None,
    pause_seconds: float = 0.0,
    on_batch: Callable[[str, int], None] | None = None,
) -> RetentionReport:
    """Sweep every tenant (or ``tenant_ids`` only, then without the pass over rows of no
    tenant). ``now`` fixes the clock the cutoffs are taken from (default: the database's);
    ``batch_size`` overrides every policy's; ``max_batches`` bounds each policy's delete
    transactions per tenant in this run; ``pause_seconds`` sleeps between batches;
    ``on_batch(policy, rows)`` is called after each committed batch."""
    if batch_size is not None and batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    names = None if policies is None else {policy_named(name).name for name in policies}
    started = time.monotonic()
    clock = now or _database_now(engine)
    everyone = tenant_ids is None
    tenants = list(_all_tenants(engine) if tenant_ids is None else tenant_ids)
    outcomes: list[PolicyOutcome] = []
    errors: list[str] = []
    sweep = _Sweep(engine, dry_run, clock, batch_size, max_batches, pause_seconds, on_batch)
    for tenant in [*tenants, *([None] if everyone else [])]:
        try:
            with tenant_scope(tenant), engine.begin() as connection:
                chosen = [
                    policy
                    for policy in effective_policies(connection, tenant)
                    if (names is None or policy.name in names)
                    and (tenant is not None or policy.shared_rows)
                ]
        except RetentionSettingError as error:
            errors.append(f"tenant {tenant or '(none)'}: {error}")
            log.warning("retention: skipped tenant %s: %s", tenant, error)
            continue
        found = [sweep.policy(tenant, policy) for policy in chosen]
        outcomes.extend(found)
        if tenant is not None and not dry_run:
            _report(engine, tenant, found)
    report = RetentionReport(dry_run, tuple(outcomes), tuple(errors), time.monotonic() - started)
    log.info(
        "retention: %s %d rows in %d batches (%.1fs)",
        "would delete" if dry_run else "deleted",
        report.rows,
        report.batches,
        report.seconds,
        extra={"retention": report.by_policy(), "dry_run": dry_run},
    )
    return report


@dataclass(frozen=True)
class _Sweep:
    engine: sa.Engine
    dry_run: bool
    now: datetime
    batch_size: int | None
    max_batches: int | None
    pause_seconds: float
    on_batch: Callable[[str, int], None] | None

    def policy(self, tenant: uuid.UUID | None, policy: Policy) -> PolicyOutcome:
        cutoff = self.now - timedelta(days=policy.keep_days)
        outcome = PolicyOutcome(
            tenant, policy.name, policy.table, policy.enabled, policy.keep_days, cutoff, 0, 0
        )
        if not policy.enabled:
            return outcome
        where = (
            f"{'r.tenant_id IS NULL' if tenant is None else 'r.tenant_id = :tenant'}"
            f" AND {policy.age_column} < :cutoff AND ({policy.condition})"
        )
        values: dict[str, Any] = {"tenant": tenant, "cutoff": cutoff}
        if self.dry_run:
            with tenant_scope(tenant), self.engine.begin() as connection:
                count = connection.execute(
                    sa.text(f"SELECT count(*) FROM {policy.table} r WHERE {where}"), values
                ).scalar_one()
            return replace(outcome, rows=int(count))
        size = self.batch_size or policy.batch_size
        pick = sa.text(
            f"SELECT r.id FROM {policy.table} r WHERE {where} LIMIT :n FOR UPDATE OF r SKIP LOCKED"
        )
        delete = sa.text(f"DELETE FROM {policy.table} WHERE id = ANY(:ids)").bindparams(
            sa.bindparam("ids", type_=ARRAY(Base.metadata.tables[policy.table].c.id.type))
        )
        rows = batches = 0
        while True:
            if self.max_batches is not None and batches >= self.max_batches:
                return replace(outcome, rows=rows, batches=batches, stopped_early=True)
            with tenant_scope(tenant), self.engine.begin() as connection:
                ids = connection.execute(pick, {**values, "n": size}).scalars().all()
                if not ids:
                    break
                fold_batch(connection, policy, tenant, list(ids))
                deleted = connection.execute(delete, {"ids": list(ids)}).rowcount
            rows += deleted
            batches += 1
            if self.on_batch is not None:
                self.on_batch(policy.name, deleted)
            if len(ids) < size:
                break
            if self.pause_seconds:
                time.sleep(self.pause_seconds)
        return replace(outcome, rows=rows, batches=batches)


def _report(engine: sa.Engine, tenant: uuid.UUID, outcomes: list[PolicyOutcome]) -> None:
    removed = {o.policy: o.rows for o in outcomes if o.rows}
    if not removed:
        return
    total = sum(removed.values())
    summary = ", ".join(f"{name} {rows}" for name, rows in removed.items())
    with tenant_scope(tenant), engine.begin() as connection:
        connection.execute(
            sa.insert(EventLog.__table__).values(
                tenant_id=tenant,
                event_type=EventType.SYSTEM.value,
                agent_role=REPORTER,
                content=f"retention deleted {total} rows: {summary}",
                data={
                    "retention": {
                        o.policy: {
                            "table": o.table,
                            "rows": o.rows,
                            "batches": o.batches,
                            "keep_days": o.keep_days,
                            "cutoff": o.cutoff.isoformat(),
                        }
                        for o in outcomes
                        if o.rows
                    }
                },
            )
        )


def _all_tenants(engine: sa.Engine) -> list[uuid.UUID]:
    # The tenants directory is readable from any scope (migration 0007).
    with engine.begin() as connection:
        return list(
            connection.execute(sa.select(Tenant.__table__.c.id).order_by(Tenant.__table__.c.id))
            .scalars()
            .all()
        )


def _database_now(engine: sa.Engine) -> datetime:
    with engine.begin() as connection:
        now: datetime = connection.execute(sa.text("SELECT now()")).scalar_one()
    return now


def policy_names() -> tuple[str, ...]:
    return tuple(policy.name for policy in POLICIES)
