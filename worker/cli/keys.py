"""``agentworker keys set-provider | rotate | verify | set-secret | grant-env-secret |
revoke-env-secret``: provider API keys and tenant secrets, encrypted at rest."""

from __future__ import annotations

import sys
from typing import Any

import click

from models import ModelUsageType
from models.db import create_sync_engine
from worker.core.settings import get_settings
from worker.security.encrypted_fields import (
    ENCRYPTED_FIELDS,
    rotate_encrypted_fields,
    verify_encrypted_fields,
)
from worker.security.encryption import SecretBox
from worker.security.provider_keys import set_provider


@click.group()
def keys() -> None:
    """Tenant API keys (issue, list, revoke) and provider API keys (ai_models), encrypted
    with AGENTWORKER_ENCRYPTION_KEYS."""


def _add_api_key_commands() -> None:
    from worker.cli import api_keys

    for command in (api_keys.issue, api_keys.list_command, api_keys.revoke):
        keys.add_command(command)


_add_api_key_commands()


@keys.command("set-provider")
@click.option("--tenant", help="Tenant id or slug; omit for a system-wide provider.")
@click.option("--name", required=True, help="Agents refer to it by this name ('provider').")
@click.option("--provider", default="openai", show_default=True)
@click.option("--model", required=True)
@click.option("--base-url", help="An OpenAI-compatible endpoint; default: the provider's.")
@click.option(
    "--requests-per-minute",
    type=click.FloatRange(min=0),
    help="The provider's rate limit, for all worker processes together (shared through a "
    "Redis broker; per process with another broker).",
)
@click.option(
    "--usage",
    type=click.Choice([u.value for u in ModelUsageType]),
    default="general",
    show_default=True,
)
def set_provider_command(
    tenant: str | None,
    name: str,
    provider: str,
    model: str,
    base_url: str | None,
    requests_per_minute: float | None,
    usage: str,
) -> None:
    """Store a provider; the API key is read from standard input, never from arguments."""
    api_key = sys.stdin.readline().strip()
    if not api_key:
        raise click.UsageError(
            "pipe the API key on standard input, e.g. "
            "`printenv PROVIDER_KEY | agentworker keys set-provider ...`"
        )
    settings = get_settings()
    engine = create_sync_engine(settings.database_url)
    try:
        provider_id = set_provider(
            engine,
            SecretBox(settings.encryption_keys),
            tenant=tenant,
            name=name,
            provider=provider,
            model=model,
            api_key=api_key,
            base_url=base_url,
            usage=ModelUsageType(usage),
            requests_per_minute=requests_per_minute,
        )
    finally:
        engine.dispose()
    click.echo(f"provider '{name}' stored ({provider_id}); its key is encrypted")


@keys.command("rotate")
def rotate() -> None:
    """Re-encrypt everything stored encrypted (provider keys, tenant secrets, API-key signing
    secrets: worker/security/encrypted_fields.py) under the first AGENTWORKER_ENCRYPTION_KEYS
    key, in one transaction; prints how many values and rows changed in each place."""
    settings = get_settings()
    engine = create_sync_engine(settings.database_url)
    try:
        reports = rotate_encrypted_fields(engine, SecretBox(settings.encryption_keys))
    finally:
        engine.dispose()
    for report in reports:
        click.echo(
            f"{report.place}: re-encrypted {report.rotated}, {report.already_current} already "
            f"current ({report.rows_changed} row(s) changed)"
        )
    rotated = sum(r.rotated for r in reports)
    rows = sum(r.rows_changed for r in reports)
    click.echo(
        f"re-encrypted {rotated} value(s) in {rows} row(s). Check with `agentworker keys "
        "verify` run with only the new key, then remove the old key from "
        "AGENTWORKER_ENCRYPTION_KEYS."
    )


@keys.command("verify")
def verify() -> None:
    """Decrypt every stored encrypted value with AGENTWORKER_ENCRYPTION_KEYS; exit 1, listing
    each one that cannot be decrypted."""
    settings = get_settings()
    engine = create_sync_engine(settings.database_url)
    try:
        failures = verify_encrypted_fields(engine, SecretBox(settings.encryption_keys))
    finally:
        engine.dispose()
    if not failures:
        click.echo(f"every encrypted value decrypts ({len(ENCRYPTED_FIELDS)} places checked)")
        return
    for failure in failures:
        item = f" [{failure.item!r}]" if failure.item is not None else ""
        click.echo(f"cannot decrypt: {failure.place} row {failure.row_id}{item}", err=True)
    click.echo(
        f"{len(failures)} value(s) cannot be decrypted: put the key that encrypted them back "
        "in AGENTWORKER_ENCRYPTION_KEYS (then run `agentworker keys rotate`), or store them "
        "again",
        err=True,
    )
    raise SystemExit(1)


@keys.command("set-secret")
@click.option("--tenant", required=True, help="Tenant id or slug.")
@click.option("--name", required=True, help='Payloads refer to it as {"$secret": "tenant:NAME"}.')
def set_secret(tenant: str, name: str) -> None:
    """Store a tenant's secret, encrypted; the value is read from standard input."""
    from worker.core.tenants import resolve_tenant
    from worker.security.secret_refs import store_tenant_secret

    value = sys.stdin.readline().rstrip("\n")
    if not value:
        raise click.UsageError(
            "pipe the secret on standard input, e.g. "
            "`printenv CRM_TOKEN | agentworker keys set-secret ...`"
        )
    settings = get_settings()
    engine = create_sync_engine(settings.database_url)
    try:
        with engine.begin() as connection:
            store_tenant_secret(
                connection,
                SecretBox(settings.encryption_keys),
                resolve_tenant(connection, tenant),
                name,
                value,
            )
    finally:
        engine.dispose()
    click.echo(f'secret stored; refer to it as {{"$secret": "tenant:{name}"}}')


@keys.command("grant-env-secret")
@click.option("--tenant", required=True, help="Tenant id or slug.")
@click.option(
    "--name",
    required=True,
    help='The worker variable AGENTWORKER_SECRET_NAME, referred to as {"$secret": "env:NAME"}.',
)
def grant_env_secret_command(tenant: str, name: str) -> None:
    """Let a tenant's tools resolve {"$secret": "env:NAME"} (no tenant can until granted)."""
    from worker.security.secret_refs import grant_env_secret

    changed = _change_env_grant(tenant, name, grant_env_secret)
    click.echo(
        f"tenant '{tenant}' may now resolve env:{name}"
        if changed
        else f"tenant '{tenant}' could already resolve env:{name}"
    )


@keys.command("revoke-env-secret")
@click.option("--tenant", required=True, help="Tenant id or slug.")
@click.option("--name", required=True, help="The NAME of a granted env:NAME.")
def revoke_env_secret_command(tenant: str, name: str) -> None:
    """Stop a tenant's tools resolving {"$secret": "env:NAME"}."""
    from worker.security.secret_refs import revoke_env_secret

    changed = _change_env_grant(tenant, name, revoke_env_secret)
    click.echo(
        f"tenant '{tenant}' may no longer resolve env:{name}"
        if changed
        else f"tenant '{tenant}' was not granted env:{name}; nothing changed"
    )


def _change_env_grant(tenant: str, name: str, change: Any) -> bool:
    from worker.core.tenants import resolve_tenant

    engine = create_sync_engine(get_settings().database_url)
    try:
        with engine.begin() as connection:
            try:
                return bool(change(connection, resolve_tenant(connection, tenant), name))
            except ValueError as error:
                raise click.BadParameter(str(error), param_hint="--name") from None
    finally:
        engine.dispose()
