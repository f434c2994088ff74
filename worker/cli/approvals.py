"""``agentworker approvals list | show | approve | reject`` and ``agentworker cancel``."""

from __future__ import annotations

import json

import click

from models import ApprovalStatus
from worker.approvals.views import ApprovalView
from worker.cli.output import as_json, table
from worker.client import AgentWorkerClient


@click.group()
def approvals() -> None:
    """What waits for a person's decision, and deciding it."""


def _age(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    if days:
        return f"{days}d{hours}h"
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s"


def _for_what(view: ApprovalView) -> str:
    if view.workflow:
        return f"workflow {view.workflow} / {view.step_key}"
    if view.agent:
        return f"agent {view.agent} / tool {view.payload.get('tool', '?')}"
    return "-"


@approvals.command("list")
@click.option("--tenant", help="Only this tenant (id or slug).")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    default=["pending"],
    show_default=True,
    type=click.Choice([s.value for s in ApprovalStatus]),
    help="Repeat for several.",
)
@click.option(
    "--limit",
    type=click.IntRange(1, 10_000),
    default=100,
    show_default=True,
    help="At most this many, the oldest first.",
)
@click.option("--json", "as_json_output", is_flag=True)
def list_command(
    tenant: str | None, statuses: tuple[str, ...], limit: int, as_json_output: bool
) -> None:
    """Approvals, oldest first, with what is asked, for what, since when and until when."""
    client = AgentWorkerClient.from_env()
    try:
        # One more than shown tells whether the limit hides any.
        views = client.approvals(
            tenant=tenant, statuses=tuple(ApprovalStatus(s) for s in statuses), limit=limit + 1
        )
    finally:
        client.close()
    if len(views) > limit:
        views = views[:limit]
        # On stderr, so the output stays parseable; an approver must not think this is all.
        click.echo(
            f"showing the oldest {limit}; more are waiting: raise --limit or narrow with --tenant",
            err=True,
        )
    if as_json_output:
        click.echo(as_json(views))
        return
    if not views:
        click.echo("nothing waits for a decision" if statuses == ("pending",) else "none")
        return
    click.echo(
        table(
            [
                (
                    v.id,
                    v.tenant,
                    v.status.value,
                    v.title[:50],
                    _for_what(v),
                    v.required_role.value,
                    _age(v.age_seconds),
                    v.expires_at,
                )
                for v in views
            ],
            ["id", "tenant", "status", "asks", "for", "role", "age", "expires"],
        )
    )


@approvals.command("show")
@click.argument("approval_id")
@click.option("--json", "as_json_output", is_flag=True)
def show(approval_id: str, as_json_output: bool) -> None:
    """Everything about one approval, including what the approver is shown."""
    client = AgentWorkerClient.from_env()
    try:
        from worker.approvals.views import get_approval

        view = get_approval(client.engine, approval_id)
    finally:
        client.close()
    if as_json_output:
        click.echo(as_json(view))
        return
    lines = [
        f"approval  {view.id} ({view.kind.value})",
        f"asks      {view.title}",
        f"for       {_for_what(view)}",
        f"tenant    {view.tenant}",
        f"status    {view.status.value}",
        f"role      {view.required_role.value} or above",
        f"waiting   {_age(view.age_seconds)} (since {view.created_at:%Y-%m-%d %H:%M:%S})",
        f"expires   {view.expires_at or 'never'}",
    ]
    if view.decided_at:
        lines.append(
            f"decided   {view.status.value} by {view.decided_by or 'system'} at "
            f"{view.decided_at:%Y-%m-%d %H:%M:%S}"
            + (f": {view.decision_comment}" if view.decision_comment else "")
        )
    lines.append(
        "shows     " + json.dumps(view.payload, indent=2, default=str).replace("\n", "\n          ")
    )
    click.echo("\n".join(lines))


def _decide(approval_id: str, decision: str, user: str, comment: str | None) -> None:
    client = AgentWorkerClient.from_env()
    try:
        view = client.resolve_approval(
            approval_id,
            decision,  # type: ignore[arg-type]
            user=user,
            comment=comment,
        )
    finally:
        client.close()
    click.echo(f"{view.status.value}: {view.title} (by {view.decided_by})")


@approvals.command("approve")
@click.argument("approval_id")
@click.option("--user", required=True, help="Your email (or user id) in the tenant.")
@click.option("--comment")
def approve(approval_id: str, user: str, comment: str | None) -> None:
    """Approve: the workflow or the tool call goes ahead."""
    _decide(approval_id, "approve", user, comment)


@approvals.command("reject")
@click.argument("approval_id")
@click.option("--user", required=True, help="Your email (or user id) in the tenant.")
@click.option("--comment", help="Why; the agent is told.")
def reject(approval_id: str, user: str, comment: str | None) -> None:
    """Reject: the workflow follows its on_reject policy; an agent is told and goes on."""
    _decide(approval_id, "reject", user, comment)


@click.command()
@click.argument("target_id")
@click.option("--reason", default="cancelled by an operator", show_default=True)
def cancel(target_id: str, reason: str) -> None:
    """Cancel a task or a workflow execution (work in flight stops at its next checkpoint)."""
    client = AgentWorkerClient.from_env()
    try:
        result = client.cancel(target_id, reason=reason)
    finally:
        client.close()
    if result.changed:
        click.echo(f"{result.kind} {result.id} cancelled")
    else:
        click.echo(f"{result.kind} {result.id} had already ended; nothing to cancel")
