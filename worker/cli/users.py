"""``agentworker users add | set-password | token issue|list|revoke``: people and their
per-user tokens (``worker.security.users``, ``worker.security.user_tokens``)."""

from __future__ import annotations

import sys

import click

from models import MembershipRole
from worker.cli.api_keys import transaction
from worker.cli.durations import expiry
from worker.cli.output import as_json, table


@click.group()
def users() -> None:
    """Users: add them to a tenant, set their password, issue tokens for their scripts."""


@users.command("add")
@click.argument("email")
@click.option("--tenant", required=True, help="Tenant id or slug.")
@click.option(
    "--role",
    required=True,
    type=click.Choice([r.value for r in MembershipRole]),
    help="Their role in the tenant (replaces a former one).",
)
@click.option("--name", "full_name", help="Their full name, for a new user.")
def add(email: str, tenant: str, role: str, full_name: str | None) -> None:
    """Add the user EMAIL (created if new) to a tenant with a role."""
    from worker.core.tenants import resolve_tenant
    from worker.security.users import add_user

    with transaction() as connection:
        membership = add_user(
            connection,
            email=email,
            tenant_id=resolve_tenant(connection, tenant),
            role=MembershipRole(role),
            full_name=full_name,
        )
    made = "created and added" if membership.created_user else "added"
    click.echo(f"{membership.email} {made} to tenant '{tenant}' as {role}")


@users.command("set-password")
@click.argument("email")
def set_password_command(email: str) -> None:
    """Set EMAIL's password, read from standard input (never from arguments)."""
    from worker.security.users import set_password

    password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise click.UsageError(
            "pipe the password on standard input, e.g. "
            "`printf '%s\\n' \"$PASSWORD\" | agentworker users set-password EMAIL`"
        )
    with transaction() as connection:
        set_password(connection, email, password)
    click.echo(f"password set for {email} (stored as a scrypt hash)")


@users.group("token")
def token() -> None:
    """Per-user tokens for scripts: each acts as its user in one tenant."""


@token.command("issue")
@click.argument("email")
@click.option("--tenant", required=True, help="Tenant id or slug the token acts in.")
@click.option("--name", help="What it is for, e.g. 'nightly-report'.")
@click.option("--expires-in", help="e.g. 90d, 12h, 2w; default: never.")
@click.option("--json", "as_json_output", is_flag=True)
def token_issue(
    email: str, tenant: str, name: str | None, expires_in: str | None, as_json_output: bool
) -> None:
    """Issue a token for EMAIL; it is printed this once and never again."""
    from worker.core.tenants import resolve_tenant
    from worker.security.user_tokens import issue_user_token

    expires_at = expiry(expires_in)
    with transaction() as connection:
        issued = issue_user_token(
            connection,
            email=email,
            tenant_id=resolve_tenant(connection, tenant),
            name=name,
            expires_at=expires_at,
        )
    if as_json_output:
        click.echo(as_json(issued))
        return
    click.echo(issued.token)
    click.echo(
        f"prefix {issued.prefix}, expires "
        f"{issued.expires_at.isoformat(timespec='seconds') if issued.expires_at else 'never'}. "
        "Store the token now: it is not shown again.",
        err=True,
    )


@token.command("list")
@click.argument("email")
@click.option("--tenant", required=True, help="Tenant id or slug.")
@click.option("--json", "as_json_output", is_flag=True)
def token_list(email: str, tenant: str, as_json_output: bool) -> None:
    """EMAIL's tokens in a tenant (never the token itself)."""
    from worker.core.tenants import resolve_tenant
    from worker.security.user_tokens import list_user_tokens

    with transaction() as connection:
        views = list_user_tokens(
            connection, email=email, tenant_id=resolve_tenant(connection, tenant)
        )
    if as_json_output:
        click.echo(as_json(views))
        return
    if not views:
        click.echo(f"{email} has no tokens in tenant '{tenant}'")
        return
    click.echo(
        table(
            [(v.prefix, v.name, v.expires_at, v.last_used_at, v.revoked_at) for v in views],
            ["prefix", "name", "expires", "last used", "revoked"],
        )
    )


@token.command("revoke")
@click.argument("prefix")
def token_revoke(prefix: str) -> None:
    """Revoke the user token PREFIX names."""
    from worker.security.user_tokens import revoke_user_token

    with transaction() as connection:
        view = revoke_user_token(connection, prefix)
    click.echo(f"user token {view.prefix} revoked at {view.revoked_at}")
