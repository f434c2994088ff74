"""The outbox of webhook deliveries as people read it: list, one delivery, resend.

Rows are created by the database in the transaction of the change they report (migration
0009's triggers); ``resend`` makes a new row for the same event (same ``webhook-id``, so a
receiver that already has it can drop it), due at once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from models import WebhookDelivery, WebhookDeliveryStatus, WebhookEndpoint
from worker.notifications.errors import UnknownDelivery

__all__ = ["DeliveryView", "get_delivery", "list_deliveries", "resend"]

_deliveries: sa.Table = WebhookDelivery.__table__  # type: ignore[assignment]
_endpoints: sa.Table = WebhookEndpoint.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class DeliveryView:
    delivery_id: uuid.UUID
    tenant_id: uuid.UUID
    endpoint_id: uuid.UUID
    url: str
    event_type: str
    event_id: uuid.UUID
    status: WebhookDeliveryStatus
    attempts: int
    next_attempt_at: datetime
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_response: str | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime
    resent_from_id: uuid.UUID | None
    payload: dict[str, Any]


def _select() -> sa.Select[Any]:
    d = _deliveries.c
    return sa.select(
        d.id,
        d.tenant_id,
        d.endpoint_id,
        _endpoints.c.url,
        d.event_type,
        d.event_id,
        d.status,
        d.attempts,
        d.next_attempt_at,
        d.last_attempt_at,
        d.last_status_code,
        d.last_response,
        d.last_error,
        d.delivered_at,
        d.created_at,
        d.resent_from_id,
        d.payload,
    ).join(_endpoints, _endpoints.c.id == d.endpoint_id)


def _view(row: sa.Row[Any]) -> DeliveryView:
    m = row._mapping
    return DeliveryView(
        delivery_id=m["id"],
        **{key: m[key] for key in DeliveryView.__dataclass_fields__ if key in m and key != "id"},
    )


def list_deliveries(
    connection: sa.Connection,
    tenant_id: uuid.UUID,
    *,
    status: WebhookDeliveryStatus | None = None,
    endpoint_id: uuid.UUID | None = None,
    limit: int = 50,
) -> list[DeliveryView]:
    """The tenant's latest deliveries, newest first."""
    statement = _select().where(_deliveries.c.tenant_id == tenant_id)
    if status is not None:
        statement = statement.where(_deliveries.c.status == status)
    if endpoint_id is not None:
        statement = statement.where(_deliveries.c.endpoint_id == endpoint_id)
    rows = connection.execute(
        statement.order_by(_deliveries.c.created_at.desc(), _deliveries.c.id).limit(limit)
    ).all()
    return [_view(row) for row in rows]


def get_delivery(connection: sa.Connection, delivery_id: uuid.UUID) -> DeliveryView:
    row = connection.execute(_select().where(_deliveries.c.id == delivery_id)).one_or_none()
    if row is None:
        raise UnknownDelivery(
            f"no webhook delivery {delivery_id} in this tenant; see "
            "`agentworker webhooks deliveries --tenant …`"
        )
    return _view(row)


def resend(connection: sa.Connection, delivery_id: uuid.UUID) -> uuid.UUID:
    """A new delivery of the same event to the same endpoint, due now; its id."""
    original = get_delivery(connection, delivery_id)
    return connection.execute(
        sa.insert(_deliveries)
        .values(
            tenant_id=original.tenant_id,
            endpoint_id=original.endpoint_id,
            event_type=original.event_type,
            event_id=original.event_id,
            payload=original.payload,
            resent_from_id=original.delivery_id,
        )
        .returning(_deliveries.c.id)
    ).scalar_one()
