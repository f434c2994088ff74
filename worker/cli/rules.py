"""``agentworker rules list | save | test``: a tenant's automation rules
(``worker.automation``). ``save`` validates a rule file (JSON or YAML) and stores it; ``test``
shows what a rule file would have fired on among the recent events, firing nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from worker.cli.output import as_json, table
from worker.cli.scoping import tenant_transaction
from worker.core.settings import get_settings


@click.group()
def rules() -> None:
    """Automation rules: a trigger (events or a schedule) and an action."""


def _read(path: Path) -> Any:
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() in (".yaml", ".yml"):
        import yaml

        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise click.ClickException(f"{path}: not YAML: {error}") from None
    try:
        return json.loads(text)
    except ValueError as error:
        raise click.ClickException(
            f"{path}: not JSON ({error}); name a YAML file .yaml or .yml"
        ) from None


_FILE = click.option(
    "--file",
    "path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The rule, JSON or YAML (.yaml/.yml).",
)


@rules.command("list")
@click.option("--tenant", required=True, help="Tenant id or slug.")
@click.option("--json", "as_json_output", is_flag=True)
def list_command(tenant: str, as_json_output: bool) -> None:
    """The tenant's rules and how often each has fired."""
    from worker.automation.store import list_rules

    with tenant_transaction(tenant) as (connection, tenant_id):
        views = list_rules(connection, tenant_id)
    if as_json_output:
        click.echo(as_json(views))
        return
    if not views:
        click.echo(f"tenant '{tenant}' has no rules; save one with `agentworker rules save`")
        return
    click.echo(
        table(
            [
                (
                    v.name,
                    "active" if v.active else "inactive",
                    v.trigger,
                    v.action,
                    v.execution_count,
                    v.success_rate,
                    v.last_executed_at,
                )
                for v in views
            ],
            ["name", "state", "trigger", "action", "runs", "success", "last run"],
        )
    )


@rules.command("save")
@click.option("--tenant", required=True, help="Tenant id or slug.")
@_FILE
@click.option("--json", "as_json_output", is_flag=True)
def save(tenant: str, path: Path, as_json_output: bool) -> None:
    """Validate the rule in FILE and store it (replacing the rule of its name)."""
    from worker.automation.store import save_rule

    document = _read(path)
    with tenant_transaction(tenant) as (connection, tenant_id):
        saved = save_rule(connection, tenant_id, document, actor="cli")
    if as_json_output:
        click.echo(as_json(saved))
        return
    verb = "created" if saved.created else "replaced"
    click.echo(f"rule '{saved.name}' {verb} ({saved.rule_id})")


@rules.command("test")
@click.option("--tenant", required=True, help="Tenant id or slug.")
@_FILE
@click.option("--limit", default=200, show_default=True, help="How many recent events to look at.")
@click.option("--json", "as_json_output", is_flag=True)
def test(tenant: str, path: Path, limit: int, as_json_output: bool) -> None:
    """What the rule in FILE would have fired on (a dry run: nothing is fired or saved)."""
    from worker.automation.preview import preview_rule

    document = _read(path)
    with tenant_transaction(tenant) as (connection, tenant_id):
        preview = preview_rule(connection, get_settings(), tenant_id, document, limit=limit)
        connection.rollback()
    if as_json_output:
        click.echo(
            as_json(
                {
                    "rule": preview.rule.name,
                    "examined": preview.examined,
                    "would_fire": preview.would_fire,
                }
            )
        )
        return
    rule = preview.rule
    click.echo(
        f"rule '{rule.name}' ({rule.describe_trigger()} → {rule.action}): "
        f"{len(preview.would_fire)} of {preview.examined} examined would trigger it (dry run)"
    )
    if preview.would_fire:
        click.echo(
            table(
                [(w.trigger, w.at, w.depth, w.outcome, w.summary) for w in preview.would_fire],
                ["trigger", "at", "depth", "outcome", "what"],
            )
        )
