"""``agentworker tenants set-broker-auth``: how a tenant's broker messages are authenticated."""

from __future__ import annotations

import click
import sqlalchemy as sa

from models import BrokerAuth, Tenant
from worker.cli.api_keys import transaction


@click.group()
def tenants() -> None:
    """Tenants: how their submissions on the broker are authenticated."""


@tenants.command("set-broker-auth")
@click.argument("tenant")
@click.argument("mode", type=click.Choice([m.value for m in BrokerAuth]))
def set_broker_auth(tenant: str, mode: str) -> None:
    """TENANT's broker mode: 'trusted' (the broker's own users are the boundary) or 'signed'
    (every submission must be signed with one of the tenant's API keys)."""
    from worker.core.tenants import resolve_tenant

    with transaction() as connection:
        tenant_id = resolve_tenant(connection, tenant)
        connection.execute(
            sa.update(Tenant.__table__)
            .where(Tenant.__table__.c.id == tenant_id)
            .values(broker_auth=BrokerAuth(mode))
        )
    if mode == BrokerAuth.SIGNED:
        click.echo(
            f"tenant '{tenant}' now accepts only signed submissions; unsigned ones fail "
            "'unauthenticated'"
        )
    else:
        click.echo(f"tenant '{tenant}' now trusts whoever may publish on the broker")
