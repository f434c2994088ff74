"""A tenant's webhook endpoints: add (the secret is shown once), list, remove.

The secret (``whsec_…``) is kept encrypted under ``AGENTWORKER_ENCRYPTION_KEYS``
(``worker.security.encrypted_fields`` lists the place), because signing needs it in clear.
Every function runs in the caller's transaction, inside the tenant's scope.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa

from models import WEBHOOK_EVENT_TYPES, WebhookEndpoint
from worker.notifications.errors import InvalidEndpoint, UnknownEndpoint
from worker.notifications.signing import new_secret
from worker.security.encryption import SecretBox

__all__ = [
    "AddedEndpoint",
    "EndpointView",
    "add_endpoint",
    "endpoint_secret",
    "list_endpoints",
    "remove_endpoint",
    "subscribable",
]

_endpoints: sa.Table = WebhookEndpoint.__table__  # type: ignore[assignment]


def subscribable() -> tuple[str, ...]:
    """Every value ``event_types`` may hold: each type, each family (``execution.*``), ``*``."""
    families = sorted({f"{name.split('.')[0]}.*" for name in WEBHOOK_EVENT_TYPES})
    return (*WEBHOOK_EVENT_TYPES, *families, "*")


@dataclass(frozen=True)
class EndpointView:
    endpoint_id: uuid.UUID
    tenant_id: uuid.UUID
    url: str
    description: str | None
    event_types: tuple[str, ...]
    active: bool
    created_at: datetime


@dataclass(frozen=True)
class AddedEndpoint:
    endpoint: EndpointView
    #: ``whsec_…``: shown once, when the endpoint is added.
    secret: str


def _checked_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidEndpoint(
            f"webhook URL {url!r} is not an http:// or https:// URL with a host; give the full "
            "address the receiver listens on, e.g. https://example.com/hooks/agentworker"
        )
    return url.strip()


def _checked_types(event_types: Iterable[str]) -> list[str]:
    chosen = sorted({name.strip() for name in event_types if name.strip()})
    known = subscribable()
    unknown = [name for name in chosen if name not in known]
    if unknown or not chosen:
        raise InvalidEndpoint(
            f"unknown event type(s) {', '.join(unknown) or '(none given)'}; choose from "
            f"{', '.join(known)}"
        )
    return chosen


def _view(row: Any) -> EndpointView:
    m = row._mapping
    return EndpointView(
        endpoint_id=m["id"],
        tenant_id=m["tenant_id"],
        url=m["url"],
        description=m["description"],
        event_types=tuple(m["event_types"]),
        active=m["active"],
        created_at=m["created_at"],
    )


_COLUMNS = (
    _endpoints.c.id,
    _endpoints.c.tenant_id,
    _endpoints.c.url,
    _endpoints.c.description,
    _endpoints.c.event_types,
    _endpoints.c.active,
    _endpoints.c.created_at,
)


def add_endpoint(
    connection: sa.Connection,
    box: SecretBox,
    *,
    tenant_id: uuid.UUID,
    url: str,
    event_types: Iterable[str],
    description: str | None = None,
) -> AddedEndpoint:
    """Subscribe ``url`` to ``event_types`` for the tenant; returns the secret (once)."""
    secret = new_secret()
    row = connection.execute(
        sa.insert(_endpoints)
        .values(
            tenant_id=tenant_id,
            url=_checked_url(url),
            description=description,
            secret_encrypted=box.encrypt(secret),
            event_types=_checked_types(event_types),
        )
        .returning(*_COLUMNS)
    ).one()
    return AddedEndpoint(_view(row), secret)


def list_endpoints(connection: sa.Connection, tenant_id: uuid.UUID) -> list[EndpointView]:
    rows = connection.execute(
        sa.select(*_COLUMNS)
        .where(_endpoints.c.tenant_id == tenant_id)
        .order_by(_endpoints.c.created_at, _endpoints.c.id)
    ).all()
    return [_view(row) for row in rows]


def remove_endpoint(
    connection: sa.Connection, tenant_id: uuid.UUID, endpoint_id: uuid.UUID
) -> EndpointView:
    """Delete the endpoint and its deliveries: nothing more is sent to it."""
    row = connection.execute(
        sa.delete(_endpoints)
        .where(_endpoints.c.id == endpoint_id, _endpoints.c.tenant_id == tenant_id)
        .returning(*_COLUMNS)
    ).one_or_none()
    if row is None:
        raise UnknownEndpoint(
            f"tenant has no webhook endpoint {endpoint_id}; see `agentworker webhooks list`"
        )
    return _view(row)


def endpoint_secret(connection: sa.Connection, box: SecretBox, endpoint_id: uuid.UUID) -> str:
    """The endpoint's secret in clear (to sign with)."""
    token = connection.execute(
        sa.select(_endpoints.c.secret_encrypted).where(_endpoints.c.id == endpoint_id)
    ).scalar_one_or_none()
    if token is None:
        raise UnknownEndpoint(f"no webhook endpoint {endpoint_id} in this tenant")
    return box.decrypt(token)
