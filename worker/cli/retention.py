"""``agentworker retention run | policies | set``: what the retention policies delete
(``worker.ops.retention``), as Celery beat runs it, and a tenant's overrides of them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import click
import sqlalchemy as sa

from worker.cli.output import as_json, table
from worker.core.errors import ConfigurationError
from worker.core.settings import get_settings
from worker.ops.retention.policies import POLICIES, RetentionSettingError


@click.group()
def retention() -> None:
    """Delete old history in small batches: seed 001's policies and the history tables'."""


@contextmanager
def _engine() -> Iterator[sa.Engine]:
    from models.db import DatabaseURLMissing, create_sync_engine
    from worker.durable import schema

    try:
        engine = create_sync_engine(get_settings().database_url, pool_size=2, max_overflow=2)
    except DatabaseURLMissing as error:
        raise ConfigurationError(str(error)) from error
    try:
        schema.assert_schema_current(engine)
        yield engine
    finally:
        engine.dispose()


def _tenant_id(engine: sa.Engine, tenant: str) -> uuid.UUID:
    from worker.core.tenants import UnknownTenant, resolve_tenant

    try:
        with engine.begin() as connection:
            return resolve_tenant(connection, tenant)
    except UnknownTenant as error:
        raise click.BadParameter(str(error), param_hint="--tenant") from error


_POLICY = click.Choice([policy.name for policy in POLICIES])


@retention.command("run")
@click.option("--dry-run", is_flag=True, help="Count what would be deleted; delete nothing.")
@click.option("--tenant", help="Only this tenant (id or slug); default: every tenant.")
@click.option("--policy", "policies", multiple=True, type=_POLICY, help="Only this policy.")
@click.option("--batch-size", type=click.IntRange(min=1), help="Rows per delete transaction.")
@click.option("--json", "as_json_output", is_flag=True)
def run(
    dry_run: bool,
    tenant: str | None,
    policies: tuple[str, ...],
    batch_size: int | None,
    as_json_output: bool,
) -> None:
    """Apply the policies now, per tenant, and show each policy's rows deleted (or, with
    --dry-run, the rows that would be). Exit 1 if a tenant was skipped (its overrides are
    invalid)."""
    from worker.ops.retention.sweep import run_retention

    with _engine() as engine:
        tenant_ids = None if tenant is None else [_tenant_id(engine, tenant)]
        report = run_retention(
            engine,
            tenant_ids=tenant_ids,
            dry_run=dry_run,
            policies=policies or None,
            batch_size=batch_size,
        )
    if as_json_output:
        click.echo(
            as_json(
                {
                    "dry_run": report.dry_run,
                    "rows": report.rows,
                    "batches": report.batches,
                    "seconds": round(report.seconds, 3),
                    "by_policy": report.by_policy(),
                    "outcomes": list(report.outcomes),
                    "errors": list(report.errors),
                }
            )
        )
    else:
        heading = "would delete" if dry_run else "deleted"
        click.echo(
            table(
                [
                    (
                        o.tenant_id or "(no tenant)",
                        o.policy,
                        o.table,
                        o.keep_days if o.enabled else "off",
                        o.cutoff.isoformat(timespec="seconds"),
                        o.rows,
                        o.batches,
                    )
                    for o in report.outcomes
                ],
                ["tenant", "policy", "table", "keep days", "cutoff", heading, "batches"],
            )
        )
        click.echo(
            f"{heading} {report.rows} rows in {report.batches} batches ({report.seconds:.1f}s)",
            err=True,
        )
    for error in report.errors:
        click.echo(f"error: {error}", err=True)
    if report.errors:
        raise SystemExit(1)


@retention.command("policies")
@click.option("--tenant", help="As they apply to this tenant (id or slug); default: system-wide.")
@click.option("--json", "as_json_output", is_flag=True)
def policies_(tenant: str | None, as_json_output: bool) -> None:
    """The policies as they apply: defaults, then system-wide, then the tenant's overrides."""
    from models.tenant_scope import tenant_scope
    from worker.ops.retention.policies import effective_policies

    with _engine() as engine:
        tenant_id = None if tenant is None else _tenant_id(engine, tenant)
        try:
            with tenant_scope(tenant_id), engine.begin() as connection:
                found = effective_policies(connection, tenant_id)
        except RetentionSettingError as error:
            raise click.ClickException(str(error)) from error
    if as_json_output:
        click.echo(as_json([{**p.__dict__, "setting_key": p.setting_key} for p in found]))
        return
    click.echo(
        table(
            [
                (p.name, p.table, p.keep_days if p.enabled else "off", p.setting_key, p.description)
                for p in found
            ],
            ["policy", "table", "keep days", "setting", "what"],
        )
    )


@retention.command("set")
@click.argument("policy", type=_POLICY)
@click.option("--tenant", help="For this tenant only (id or slug); default: system-wide.")
@click.option("--keep-days", type=int, help="Keep rows this many days.")
@click.option("--enable/--disable", "enabled", default=None, help="Turn the policy on or off.")
def set_(policy: str, tenant: str | None, keep_days: int | None, enabled: bool | None) -> None:
    """Override POLICY in system_settings (retention.POLICY), validated first."""
    from models.tenant_scope import tenant_scope
    from worker.ops.retention.policies import save_override

    if keep_days is None and enabled is None:
        raise click.UsageError("give --keep-days N, --enable or --disable")
    with _engine() as engine:
        tenant_id = None if tenant is None else _tenant_id(engine, tenant)
        try:
            with tenant_scope(tenant_id), engine.begin() as connection:
                changed = save_override(
                    connection, tenant_id, policy, keep_days=keep_days, enabled=enabled
                )
        except RetentionSettingError as error:
            raise click.ClickException(str(error)) from error
    where = f"tenant {tenant_id}" if tenant_id else "system-wide"
    state = f"keeps {changed.keep_days} days" if changed.enabled else "is off"
    click.echo(f"{policy} ({where}) {state}")
