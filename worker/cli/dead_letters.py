"""``agentworker dead-letters list | redrive``: messages no handler could take, and sending one
again once its cause is fixed (``worker.app.redrive``)."""

from __future__ import annotations

import uuid

import click

from models.db import create_sync_engine
from worker.app.redrive import DeadLetter, consumed_tasks, list_dead_letters, redrive
from worker.cli.output import as_json, table
from worker.cli.scoping import cli_tenant_scope
from worker.durable import schema
from worker.durable.publishing import CeleryPublisher, publishing_app

_WHY_WIDTH = 90
_TENANT = click.option(
    "--tenant",
    default=None,
    help="The tenant (id or slug) whose dead letters to see; without it, only those that "
    "named no known tenant.",
)


@click.group("dead-letters")
def dead_letters() -> None:
    """Messages that were acked without a task row (malformed, refused, unknown task)."""


def _why(letter: DeadLetter) -> str:
    text = f"{letter.kind}: {letter.error}".replace("\n", " ")
    return text if len(text) <= _WHY_WIDTH else text[: _WHY_WIDTH - 1] + "…"


def _redrive_cell(letter: DeadLetter) -> str:
    if letter.redriven is not None:
        return f"done {str(letter.redriven.get('at', ''))[:19].replace('T', ' ')}"
    return "yes" if letter.refusal is None else "no"


@dead_letters.command("list")
@click.option(
    "--limit",
    type=click.IntRange(1, 10_000),
    default=50,
    show_default=True,
    help="At most this many, the newest first.",
)
@_TENANT
@click.option("--json", "as_json_output", is_flag=True)
def list_command(limit: int, tenant: str | None, as_json_output: bool) -> None:
    """Dead letters, newest first: the task, its broker message id, why, when, and whether
    `redrive` can send it again (`redrive ID` says why not)."""
    engine = create_sync_engine()
    try:
        schema.assert_schema_current(engine)
        with cli_tenant_scope(engine, tenant), engine.connect() as connection:
            letters, total = list_dead_letters(
                connection, limit=limit, known_tasks=consumed_tasks()
            )
    finally:
        engine.dispose()
    if total > len(letters):
        # On stderr, so the output stays parseable; an operator must not think this is all.
        click.echo(
            f"showing the newest {len(letters)} of {total} dead letters: raise --limit to see more",
            err=True,
        )
    if as_json_output:
        click.echo(as_json(letters))
        return
    if not letters:
        click.echo("no dead letters")
        return
    rows = [
        (
            letter.id,
            letter.created_at,
            letter.task,
            letter.broker_message_id,
            _why(letter),
            _redrive_cell(letter),
        )
        for letter in letters
    ]
    click.echo(table(rows, ["id", "when", "task", "message id", "why", "redrive"]))


@dead_letters.command("redrive")
@click.argument("letter_id", type=click.UUID)
@_TENANT
def redrive_command(letter_id: uuid.UUID, tenant: str | None) -> None:
    """Publish a dead letter's message again (under its broker message id) and mark it
    re-driven; refused, saying why, when it cannot be sent as it arrived or was sent already."""
    engine = create_sync_engine()
    app = publishing_app()
    try:
        schema.assert_schema_current(engine)
        with cli_tenant_scope(engine, tenant):
            letter = redrive(engine, CeleryPublisher(app), letter_id, known_tasks=consumed_tasks())
    finally:
        app.close()
        engine.dispose()
    sent = letter.redriven["message_id"] if letter.redriven else "?"
    click.echo(f"re-driven: {letter.task} published again as message {sent}")
