"""``agentworker keys set-provider | rotate``: provider API keys, encrypted at rest."""

from __future__ import annotations

import sys

import click

from models import ModelUsageType
from models.db import create_sync_engine
from worker.core.settings import get_settings
from worker.security.encryption import SecretBox
from worker.security.provider_keys import rotate_provider_keys, set_provider


@click.group()
def keys() -> None:
    """Provider API keys (ai_models), encrypted with AGENTWORKER_ENCRYPTION_KEYS."""


@keys.command("set-provider")
@click.option("--tenant", help="Tenant id or slug; omit for a system-wide provider.")
@click.option("--name", required=True, help="Agents refer to it by this name ('provider').")
@click.option("--provider", default="openai", show_default=True)
@click.option("--model", required=True)
@click.option("--base-url", help="An OpenAI-compatible endpoint; default: the provider's.")
@click.option(
    "--requests-per-minute",
    type=click.FloatRange(min=0),
    help="The provider's rate limit: each worker process paces its calls to it.",
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
    """Re-encrypt every stored provider key under the first AGENTWORKER_ENCRYPTION_KEYS key."""
    settings = get_settings()
    engine = create_sync_engine(settings.database_url)
    try:
        report = rotate_provider_keys(engine, SecretBox(settings.encryption_keys))
    finally:
        engine.dispose()
    click.echo(
        f"re-encrypted {report.rotated} key(s); {report.already_current} already current. "
        "You may now remove the old key from AGENTWORKER_ENCRYPTION_KEYS."
    )


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
