"""``agentworker migrate``."""

from __future__ import annotations

import click

from worker.durable import schema


@click.command()
@click.option("--revision", default="head", show_default=True, help="Alembic revision target.")
def migrate(revision: str) -> None:
    """Bring the database at DATABASE_URL to the code's schema."""
    schema.upgrade(revision=revision)
    click.echo(f"database migrated to {revision} ({schema.head_revision()})")
