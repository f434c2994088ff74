"""``agentworker keys issue | list | revoke``: tenant API keys (``worker.security.api_keys``).

A key is printed once, when issued; lists show its prefix, never the key.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
import sqlalchemy as sa

from models.db import create_sync_engine
from worker.cli.durations import expiry
from worker.cli.output import as_json, table
from worker.core.errors import AgentWorkerError
from worker.core.settings import get_settings
from worker.security.principals import Scope


@contextmanager
def transaction() -> Iterator[sa.Connection]:
    """One transaction on DATABASE_URL; our errors become one line and exit code 1."""
    engine = create_sync_engine(get_settings().database_url)
    try:
        with engine.begin() as connection:
            yield connection
    except AgentWorkerError as error:
        if error.code in {"configuration", "schema_out_of_date"}:
            raise
        raise click.ClickException(str(error)) from error
    finally:
        engine.dispose()


@click.command("issue")
@click.option("--tenant", required=True, help="Tenant id or slug.")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    required=True,
    type=click.Choice([s.value for s in Scope]),
    help="Repeat for several: submit, read, decide (for a named user), admin.",
)
@click.option("--name", required=True, help="Who holds it, e.g. 'billing-service'.")
@click.option("--expires-in", help="e.g. 90d, 12h, 2w; default: never.")
@click.option("--json", "as_json_output", is_flag=True)
def issue(
    tenant: str, scopes: tuple[str, ...], name: str, expires_in: str | None, as_json_output: bool
) -> None:
    """Issue a tenant API key; it is printed this once and never again."""
    from worker.core.tenants import resolve_tenant
    from worker.security.api_keys import issue_key
    from worker.security.encryption import SecretBox

    expires_at = expiry(expires_in)
    box = SecretBox.from_settings(get_settings())
    with transaction() as connection:
        issued = issue_key(
            connection,
            box,
            tenant_id=resolve_tenant(connection, tenant),
            name=name,
            scopes=scopes,
            expires_at=expires_at,
        )
    if as_json_output:
        click.echo(as_json(issued))
        return
    click.echo(issued.key)
    click.echo(
        f"prefix {issued.prefix}, scopes {', '.join(issued.scopes)}, expires "
        f"{issued.expires_at.isoformat(timespec='seconds') if issued.expires_at else 'never'}. "
        "Store the key now: it is not shown again.",
        err=True,
    )


@click.command("list")
@click.option("--tenant", required=True, help="Tenant id or slug.")
@click.option("--json", "as_json_output", is_flag=True)
def list_command(tenant: str, as_json_output: bool) -> None:
    """A tenant's API keys: prefix, name, scopes, expiry, last use, revocation (never the key)."""
    from worker.core.tenants import resolve_tenant
    from worker.security.api_keys import list_keys

    with transaction() as connection:
        views = list_keys(connection, resolve_tenant(connection, tenant))
    if as_json_output:
        click.echo(as_json([{**_fields(v), "state": v.state()} for v in views]))
        return
    if not views:
        click.echo(f"tenant '{tenant}' has no API keys; issue one with `agentworker keys issue`")
        return
    click.echo(
        table(
            [
                (
                    v.prefix,
                    v.name,
                    ",".join(v.scopes),
                    v.state(),
                    v.expires_at,
                    v.last_used_at,
                    v.revoked_at,
                )
                for v in views
            ],
            ["prefix", "name", "scopes", "state", "expires", "last used", "revoked"],
        )
    )


@click.command("revoke")
@click.argument("prefix")
def revoke(prefix: str) -> None:
    """Revoke the key PREFIX names; messages signed with it are refused from now on."""
    from worker.security.api_keys import revoke_key

    with transaction() as connection:
        view = revoke_key(connection, prefix)
    click.echo(f"key {view.prefix} ({view.name}) revoked at {view.revoked_at}")


def _fields(view: object) -> dict[str, object]:
    from dataclasses import asdict

    return asdict(view)  # type: ignore[call-overload, no-any-return]
