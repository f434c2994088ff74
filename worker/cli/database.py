"""``agentworker migrate`` and ``agentworker seed``."""

from __future__ import annotations

import json

import click

from models.db import create_sync_engine, sync_session_factory
from worker import schema
from worker.seed import seed_demo


@click.command()
@click.option("--revision", default="head", show_default=True, help="Alembic revision target.")
def migrate(revision: str) -> None:
    """Bring the database at DATABASE_URL to the code's schema."""
    schema.upgrade(revision=revision)
    click.echo(f"database migrated to {revision} ({schema.head_revision()})")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print what was created as JSON.")
def seed(as_json: bool) -> None:
    """Insert the demo tenant, users, agents, workflow and event (idempotent)."""
    engine = create_sync_engine()
    try:
        schema.assert_schema_current(engine)
        with sync_session_factory(engine)() as session:
            summary = seed_demo(session)
    finally:
        engine.dispose()
    if as_json:
        click.echo(json.dumps({"tenant": summary.tenant_slug, "created": summary.created}))
    elif summary.created_anything:
        made = ", ".join(f"{n} {table}" for table, n in sorted(summary.created.items()))
        click.echo(f"seeded tenant '{summary.tenant_slug}': created {made}")
    else:
        click.echo(f"tenant '{summary.tenant_slug}' already seeded: nothing to do")
