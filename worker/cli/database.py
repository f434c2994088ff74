"""``agentworker migrate``."""

from __future__ import annotations

import os

import click

from worker.core.database_roles import RUNTIME_GROUP, ensure_runtime_login
from worker.core.settings import get_settings
from worker.durable import schema


@click.command()
@click.option("--revision", default="head", show_default=True, help="Alembic revision target.")
@click.option(
    "--runtime-login",
    metavar="ROLE",
    default=None,
    help="Also create (once) the worker's login role ROLE as a member of agentworker_runtime, "
    "with the password in AGENTWORKER_RUNTIME_PASSWORD; needs a role that may create roles.",
)
def migrate(revision: str, runtime_login: str | None) -> None:
    """Bring the database to the code's schema, as its owner: AGENTWORKER_MIGRATION_DATABASE_URL
    (else DATABASE_URL)."""
    settings = get_settings()
    owner_url = settings.migration_database_url or settings.database_url
    schema.upgrade(owner_url, revision=revision)
    click.echo(f"database migrated to {revision} ({schema.head_revision()})")
    if runtime_login:
        password = os.environ.get("AGENTWORKER_RUNTIME_PASSWORD", "")
        if not password:
            raise click.UsageError(
                "--runtime-login needs the role's password in AGENTWORKER_RUNTIME_PASSWORD"
            )
        if owner_url is None:
            raise click.UsageError("set AGENTWORKER_MIGRATION_DATABASE_URL (the owner's URL)")
        ensure_runtime_login(owner_url, runtime_login, password)
        click.echo(f"runtime login '{runtime_login}' is a member of {RUNTIME_GROUP}")
