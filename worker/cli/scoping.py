"""The tenant a CLI command acts for: ``--tenant`` names it, and the command then sees and
changes only that tenant's rows (row-level security, ``models.tenant_scope``)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator

import click
import sqlalchemy as sa

from models.tenant_scope import tenant_scope
from worker.core.errors import AgentWorkerError
from worker.core.settings import get_settings
from worker.core.tenants import UnknownTenant, resolve_tenant


@contextlib.contextmanager
def cli_tenant_scope(engine: sa.Engine, tenant: str | None) -> Iterator[uuid.UUID | None]:
    """Enter ``tenant``'s scope (an id or slug); with None, no tenant's rows are visible."""
    if tenant is None:
        with tenant_scope(None):
            yield None
        return
    try:
        with engine.connect() as connection:
            tenant_id = resolve_tenant(connection, tenant)
    except UnknownTenant as error:
        raise click.BadParameter(str(error), param_hint="--tenant") from error
    with tenant_scope(tenant_id):
        yield tenant_id


@contextlib.contextmanager
def tenant_transaction(tenant: str) -> Iterator[tuple[sa.Connection, uuid.UUID]]:
    """One transaction on DATABASE_URL in ``tenant``'s scope (an id or slug); our errors
    become one line and exit 1 (not configured, a stale schema: ``worker.cli.failures``)."""
    from models.db import create_sync_engine

    engine = create_sync_engine(get_settings().database_url)
    try:
        with engine.begin() as connection:
            yield connection, resolve_tenant(connection, tenant)
    except AgentWorkerError as error:
        if error.code in {"configuration", "schema_out_of_date"}:
            raise
        raise click.ClickException(str(error)) from error
    finally:
        engine.dispose()
