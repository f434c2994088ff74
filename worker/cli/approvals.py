"""``agentworker approvals list | show | approve | reject`` and ``agentworker cancel``."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

import click
import sqlalchemy as sa

from models import ApprovalStatus
from worker.approvals.views import ApprovalView
from worker.cli.output import as_json, table
from worker.cli.scoping import cli_tenant_scope
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
@click.option("--tenant", required=True, help="The tenant (id or slug); never across tenants.")
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
def list_command(tenant: str, statuses: tuple[str, ...], limit: int, as_json_output: bool) -> None:
    """Approvals, oldest first, with what is asked, for what, since when and until when."""
    client = AgentWorkerClient.from_env()
    try:
        with cli_tenant_scope(client.engine, tenant):
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
            f"showing the oldest {limit}; more are waiting: raise --limit",
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
                    _votes_summary(v),
                    _age(v.age_seconds),
                    v.expires_at,
                )
                for v in views
            ],
            ["id", "tenant", "status", "asks", "for", "role", "votes", "age", "expires"],
        )
    )


@approvals.command("show")
@click.argument("approval_id")
@click.option("--json", "as_json_output", is_flag=True)
def show(approval_id: str, as_json_output: bool) -> None:
    """Everything about one approval: what the approver is shown (a tool call's arguments and
    digest), the votes so far and the quorum."""
    client = AgentWorkerClient.from_env()
    try:
        from worker.approvals.views import get_approval

        with _tenant_of(client.engine, approval_id):
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
        f"quorum    {view.quorum} approver(s); {view.rejections_needed} rejection(s) reject",
        f"waiting   {_age(view.age_seconds)} (since {view.created_at:%Y-%m-%d %H:%M:%S})",
        f"expires   {view.expires_at or 'never'}",
    ]
    if view.decided_at:
        lines.append(
            f"decided   {view.status.value} by {view.decided_by or 'system'} at "
            f"{view.decided_at:%Y-%m-%d %H:%M:%S}"
            + (f": {view.decision_comment}" if view.decision_comment else "")
        )
    if view.digest is not None:
        edited = " (edited by an approver)" if view.edited_arguments is not None else ""
        lines.append(f"tool      {view.payload.get('tool', '?')}")
        lines.append(f"arguments{edited} " + _indented(view.arguments))
        lines.append(f"digest    {view.digest}")
        if view.approved_digest:
            lines.append(f"approved  {view.approved_digest}")
    else:
        lines.append("shows     " + _indented(view.payload))
    lines.append(f"votes     {_votes_summary(view)}")
    for vote in view.votes:
        through = vote.principal_kind + (f", os user {vote.os_user}" if vote.os_user else "")
        lines.append(
            f"  {vote.created_at:%Y-%m-%d %H:%M:%S} {vote.decision} by {vote.approver} "
            f"({through})"
            + (" with edited arguments" if vote.edited else "")
            + (f": {vote.comment}" if vote.comment else "")
        )
    click.echo("\n".join(lines))


@contextlib.contextmanager
def _tenant_of(engine: sa.Engine, approval_id: str) -> Iterator[None]:
    """The scope of the approval's tenant (row-level security): an id names the tenant."""
    from models.tenant_scope import tenant_scope
    from worker.approvals.errors import ApprovalNotFound, approval_uuid
    from worker.durable.tenant_lookup import tenant_of_approval

    with engine.connect() as connection:
        tenant_id = tenant_of_approval(connection, approval_uuid(approval_id))
    if tenant_id is None:
        raise ApprovalNotFound(f"no approval {approval_id}")
    with tenant_scope(tenant_id):
        yield


def _indented(value: object) -> str:
    return json.dumps(value, indent=2, default=str).replace("\n", "\n          ")


def _votes_summary(view: ApprovalView) -> str:
    approvals = sum(vote.decision == "approve" for vote in view.votes)
    rejections = len(view.votes) - approvals
    return f"{approvals}/{view.quorum} approve, {rejections}/{view.rejections_needed} reject"


def _decide(
    approval_id: str,
    decision: str,
    user: str,
    comment: str | None,
    arguments_json: str | None = None,
    digest: str | None = None,
) -> None:
    arguments = _parsed_arguments(arguments_json)
    client = AgentWorkerClient.from_env()
    try:
        from worker.approvals.views import get_approval

        with _tenant_of(client.engine, approval_id):
            shown = get_approval(client.engine, approval_id)
            if shown.digest is not None:
                # What this decision is bound to: the call as shown now, or the one given.
                click.echo(f"tool      {shown.payload.get('tool', '?')}")
                click.echo("arguments " + _indented(shown.arguments))
                click.echo(f"digest    {digest or shown.digest}")
                if arguments is not None:
                    click.echo("edited to " + _indented(arguments))
                digest = digest or shown.digest
            view = client.resolve_approval(
                approval_id,
                decision,  # type: ignore[arg-type]
                user=user,
                comment=comment,
                digest=digest,
                arguments=arguments,
            )
    finally:
        client.close()
    if view.status.value == "pending":
        click.echo(f"vote recorded: {view.title} ({_votes_summary(view)})")
        return
    click.echo(f"{view.status.value}: {view.title} (by {view.decided_by})")


def _parsed_arguments(text: str | None) -> dict[str, object] | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError as error:
        raise click.BadParameter(f"not JSON: {error}", param_hint="--arguments") from None
    if not isinstance(value, dict):
        raise click.BadParameter("must be a JSON object", param_hint="--arguments")
    return value


_USER = click.option(
    "--user", required=True, help="The approver's email (or user id) in the tenant."
)
_DIGEST = click.option(
    "--digest",
    help="A tool approval: the digest you were shown (approvals show); refused if the call "
    "changed since. Default: the digest shown by this command.",
)


@approvals.command("approve")
@click.argument("approval_id")
@_USER
@click.option("--comment")
@click.option(
    "--arguments",
    "arguments_json",
    help="A tool approval: the arguments as you edited them (a JSON object, checked against "
    "the tool's schema); the edited call is what you approve.",
)
@_DIGEST
def approve(
    approval_id: str,
    user: str,
    comment: str | None,
    arguments_json: str | None,
    digest: str | None,
) -> None:
    """Approve: the workflow or the tool call goes ahead once the quorum is met. Recorded as
    the CLI and your OS user, beside the approver named."""
    _decide(approval_id, "approve", user, comment, arguments_json, digest)


@approvals.command("reject")
@click.argument("approval_id")
@_USER
@click.option("--comment", help="Why; the agent is told.")
@_DIGEST
def reject(approval_id: str, user: str, comment: str | None, digest: str | None) -> None:
    """Reject: the workflow follows its on_reject policy; an agent is told and goes on."""
    _decide(approval_id, "reject", user, comment, None, digest)


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
