"""``agentworker budgets show | set``: a tenant's LLM spend today and this month against its
budget, and the budget itself (``worker.agents.tenant_budgets``)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import click

from worker.cli.output import as_json, table
from worker.cli.scoping import tenant_transaction


@click.group()
def budgets() -> None:
    """A tenant's LLM budget per UTC day and month, and what it has spent against it."""


@budgets.command("show")
@click.option("--tenant", required=True, help="The tenant (id or slug).")
@click.option("--json", "as_json_output", is_flag=True)
def show(tenant: str, as_json_output: bool) -> None:
    """What TENANT spent today and this month, against its limits and grants."""
    from worker.agents.tenant_budgets import spend_of, tenant_limits

    with tenant_transaction(tenant) as (connection, tenant_id):
        periods = spend_of(connection, tenant_id)
        limits = tenant_limits(connection, tenant_id)
    if as_json_output:
        click.echo(
            as_json(
                {
                    "tenant_id": str(tenant_id),
                    "on_exceeded": "ask" if limits.ask else "fail",
                    "periods": [p.as_json() for p in periods],
                }
            )
        )
        return
    rows = [
        [
            shown["period"],
            shown["period_start"],
            f"${shown['spent_usd']}",
            shown["llm_calls"],
            "none" if shown["limit_usd"] is None else f"${shown['limit_usd']}",
            f"${shown['granted_usd']}",
            "-" if shown["remaining_usd"] is None else f"${shown['remaining_usd']}",
        ]
        for shown in (p.as_json() for p in periods)
    ]
    headers = ["period", "since", "spent", "calls", "budget", "granted", "remaining"]
    click.echo(table(rows, headers))
    click.echo(f"at the limit a run {'asks an approver for more' if limits.ask else 'fails'}")


def _dollars_or_none(value: str | None) -> Any:
    if value is None or value == "none":
        return value
    try:
        return str(Decimal(value))
    except ArithmeticError:
        raise click.BadParameter(
            f"{value!r} is not a number of dollars; write e.g. 25 or 12.50, or 'none'"
        ) from None


@budgets.command("set")
@click.option("--tenant", required=True, help="The tenant (id or slug).")
@click.option("--daily-usd", help="Dollars a UTC day ('none': no daily limit).")
@click.option("--monthly-usd", help="Dollars a UTC month ('none': no monthly limit).")
@click.option(
    "--on-exceeded",
    type=click.Choice(["fail", "ask"]),
    help="At a limit, fail the run (budget_exceeded) or ask an approver to grant more.",
)
def set_budget(
    tenant: str, daily_usd: str | None, monthly_usd: str | None, on_exceeded: str | None
) -> None:
    """Set TENANT's own budget (its rows override the system-wide ones). Workers read it
    within a few seconds (AGENTWORKER_DEFINITION_CACHE_SECONDS)."""
    from worker.agents.tenant_budgets import (
        DAILY_KEY,
        MONTHLY_KEY,
        ON_EXCEEDED_KEY,
        save_limits,
    )

    given = {
        DAILY_KEY: _dollars_or_none(daily_usd),
        MONTHLY_KEY: _dollars_or_none(monthly_usd),
        ON_EXCEEDED_KEY: on_exceeded,
    }
    changes = {key: None if value == "none" else value for key, value in given.items() if value}
    if not changes:
        raise click.UsageError("say what to set: --daily-usd, --monthly-usd or --on-exceeded")
    with tenant_transaction(tenant) as (connection, tenant_id):
        limits = save_limits(connection, tenant_id, changes)
    daily = "none" if limits.daily_usd is None else f"${limits.daily_usd}"
    monthly = "none" if limits.monthly_usd is None else f"${limits.monthly_usd}"
    click.echo(
        f"tenant '{tenant}': daily budget {daily}, monthly {monthly}; at a limit a run "
        f"{'asks an approver for more' if limits.ask else 'fails'}"
    )
