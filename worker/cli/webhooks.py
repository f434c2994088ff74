"""``agentworker webhooks add | list | remove | deliveries | resend``: a tenant's webhook
endpoints and the deliveries made to them (``worker.notifications``).

An endpoint's secret is printed once, when it is added; lists never show it.
"""

from __future__ import annotations

import uuid

import click

from models import WebhookDeliveryStatus
from worker.cli.output import as_json, table
from worker.cli.scoping import tenant_transaction
from worker.core.settings import get_settings


@click.group()
def webhooks() -> None:
    """Where a tenant's events are POSTed (signed), and how each delivery went."""


def _event_types_help() -> str:
    return "Repeat for several: e.g. task.succeeded, execution.* or * (every event)."


@webhooks.command("add")
@click.option("--tenant", required=True, help="Tenant id or slug.")
@click.option("--url", required=True, help="Where to POST, e.g. https://example.com/hooks.")
@click.option("--event", "events", multiple=True, required=True, help=_event_types_help())
@click.option("--description", help="What it is for, shown in lists.")
@click.option("--json", "as_json_output", is_flag=True)
def add(
    tenant: str, url: str, events: tuple[str, ...], description: str | None, as_json_output: bool
) -> None:
    """Subscribe URL to events; the signing secret is printed this once and never again."""
    from worker.notifications.endpoints import add_endpoint
    from worker.security.encryption import SecretBox

    box = SecretBox.from_settings(get_settings())
    with tenant_transaction(tenant) as (connection, tenant_id):
        added = add_endpoint(
            connection,
            box,
            tenant_id=tenant_id,
            url=url,
            event_types=events,
            description=description,
        )
    if as_json_output:
        click.echo(as_json({**_endpoint_fields(added.endpoint), "secret": added.secret}))
        return
    click.echo(added.secret)
    click.echo(
        f"endpoint {added.endpoint.endpoint_id} → {added.endpoint.url} "
        f"({', '.join(added.endpoint.event_types)}). Store the secret now: it is not shown "
        "again; receivers verify the webhook-signature header with it.",
        err=True,
    )


@webhooks.command("list")
@click.option("--tenant", required=True, help="Tenant id or slug.")
@click.option("--json", "as_json_output", is_flag=True)
def list_command(tenant: str, as_json_output: bool) -> None:
    """The tenant's endpoints (never their secrets)."""
    from worker.notifications.endpoints import list_endpoints

    with tenant_transaction(tenant) as (connection, tenant_id):
        views = list_endpoints(connection, tenant_id)
    if as_json_output:
        click.echo(as_json([_endpoint_fields(v) for v in views]))
        return
    if not views:
        click.echo(
            f"tenant '{tenant}' has no webhook endpoints; add one with `agentworker webhooks add`"
        )
        return
    click.echo(
        table(
            [
                (
                    v.endpoint_id,
                    v.url,
                    ",".join(v.event_types),
                    "active" if v.active else "inactive",
                    v.description or "",
                )
                for v in views
            ],
            ["id", "url", "events", "state", "description"],
        )
    )


@webhooks.command("remove")
@click.option("--tenant", required=True, help="Tenant id or slug.")
@click.argument("endpoint_id", type=click.UUID)
def remove(tenant: str, endpoint_id: uuid.UUID) -> None:
    """Delete endpoint ENDPOINT_ID and its deliveries; nothing more is sent to it."""
    from worker.notifications.endpoints import remove_endpoint

    with tenant_transaction(tenant) as (connection, tenant_id):
        view = remove_endpoint(connection, tenant_id, endpoint_id)
    click.echo(f"endpoint {view.endpoint_id} ({view.url}) removed")


@webhooks.command("deliveries")
@click.option("--tenant", required=True, help="Tenant id or slug.")
@click.option("--status", type=click.Choice([s.value for s in WebhookDeliveryStatus]))
@click.option("--endpoint", "endpoint_id", type=click.UUID, help="Only this endpoint's.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option("--json", "as_json_output", is_flag=True)
def deliveries(
    tenant: str,
    status: str | None,
    endpoint_id: uuid.UUID | None,
    limit: int,
    as_json_output: bool,
) -> None:
    """The latest deliveries, newest first: status, attempts, last response or error."""
    from worker.notifications.deliveries import list_deliveries

    with tenant_transaction(tenant) as (connection, tenant_id):
        views = list_deliveries(
            connection,
            tenant_id,
            status=WebhookDeliveryStatus(status) if status else None,
            endpoint_id=endpoint_id,
            limit=limit,
        )
    if as_json_output:
        click.echo(as_json(views))
        return
    if not views:
        click.echo("no deliveries")
        return
    click.echo(
        table(
            [
                (
                    v.delivery_id,
                    v.event_type,
                    v.status.value,
                    v.attempts,
                    v.last_status_code if v.last_status_code is not None else "",
                    (v.last_error or "")[:60],
                    v.created_at,
                    v.url,
                )
                for v in views
            ],
            ["id", "event", "status", "attempts", "http", "last error", "created", "url"],
        )
    )


@webhooks.command("resend")
@click.option("--tenant", required=True, help="Tenant id or slug.")
@click.argument("delivery_id", type=click.UUID)
def resend_command(tenant: str, delivery_id: uuid.UUID) -> None:
    """Deliver DELIVERY_ID's event again, as a new delivery (same webhook-id), now."""
    from worker.durable.publishing import CeleryPublisher, publishing_app
    from worker.notifications.deliveries import resend
    from worker.notifications.task_names import DELIVER_WEBHOOK

    with tenant_transaction(tenant) as (connection, tenant_id):
        new_id = resend(connection, delivery_id)
    click.echo(f"delivery {new_id} queued (a new delivery of {delivery_id}'s event)")
    try:
        CeleryPublisher(publishing_app(get_settings().broker_url)).publish(
            DELIVER_WEBHOOK,
            {"tenant_id": str(tenant_id), "delivery_id": str(new_id)},
        )
    except Exception as error:  # the row is committed: the sweep sends it anyway
        click.echo(
            f"could not publish it now ({type(error).__name__}); a worker's delivery sweep "
            "sends it within AGENTWORKER_NOTIFICATION_SWEEP_INTERVAL_SECONDS",
            err=True,
        )


def _endpoint_fields(view: object) -> dict[str, object]:
    from dataclasses import asdict

    return asdict(view)  # type: ignore[call-overload, no-any-return]
