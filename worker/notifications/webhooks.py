"""Delivering one webhook: take the row, POST it signed, record what happened.

1. **Take** the delivery in its own short transaction: a guarded ``UPDATE … WHERE status =
   'pending' AND next_attempt_at <= now()`` counts the attempt and pushes ``next_attempt_at``
   past the POST's timeout, so no other worker (nor the sweep) takes it meanwhile, and a worker
   that dies lets go of it then.
2. **POST** the payload with the Standard Webhooks headers (``signing``), no transaction open.
3. **Record** the outcome, guarded on the attempt it took: 2xx is SUCCEEDED; anything else is
   retried after an exponential backoff with jitter (``retry``) until
   ``webhook_max_attempts``, then FAILED with the last status, response and error.
"""

from __future__ import annotations

import json
import logging
import random
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

import httpx
import sqlalchemy as sa

from models import WebhookDelivery, WebhookDeliveryStatus, WebhookEndpoint
from worker.core.settings import Settings
from worker.notifications.retry import retry_delay
from worker.notifications.signing import signed_headers
from worker.security.encryption import SecretBox

__all__ = ["RESPONSE_LIMIT", "AttemptOutcome", "body_of", "deliver_webhook"]

log = logging.getLogger(__name__)

_deliveries: sa.Table = WebhookDelivery.__table__  # type: ignore[assignment]
_endpoints: sa.Table = WebhookEndpoint.__table__  # type: ignore[assignment]

#: How much of a receiver's response body is kept.
RESPONSE_LIMIT = 2000
_USER_AGENT = "agentworker-webhooks/1"


@dataclass(frozen=True)
class AttemptOutcome:
    delivery_id: uuid.UUID
    #: skipped: not due, already final, or another worker holds it.
    outcome: Literal["succeeded", "retrying", "failed", "skipped"]
    attempts: int = 0
    status_code: int | None = None
    error: str | None = None
    retry_in_seconds: float | None = None


def body_of(payload: dict[str, Any]) -> bytes:
    """The exact bytes sent (and signed) for a stored payload."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def deliver_webhook(
    engine: sa.Engine,
    settings: Settings,
    box: SecretBox,
    delivery_id: uuid.UUID,
    *,
    client: httpx.Client | None = None,
    rng: random.Random | None = None,
) -> AttemptOutcome:
    """One attempt at delivery ``delivery_id`` (run inside its tenant's scope)."""
    taken = _take(engine, delivery_id, settings.webhook_timeout_seconds + 30)
    if taken is None:
        return AttemptOutcome(delivery_id, "skipped")
    if not taken.active:
        return _record(
            engine,
            settings,
            taken,
            None,
            "",
            f"the endpoint {taken.endpoint_id} is disabled; nothing was sent",
            final=True,
            rng=rng,
        )
    body = body_of(taken.payload)
    headers = {
        **signed_headers(box.decrypt(taken.secret_encrypted), str(taken.event_id), body),
        "content-type": "application/json",
        "user-agent": _USER_AGENT,
    }
    status_code: int | None = None
    response_text = ""
    error: str | None = None
    owned = client is None
    http = client or httpx.Client(timeout=settings.webhook_timeout_seconds)
    try:
        response = http.post(taken.url, content=body, headers=headers, follow_redirects=False)
        status_code = response.status_code
        response_text = response.text[:RESPONSE_LIMIT]
        if not 200 <= status_code < 300:
            error = f"the receiver answered HTTP {status_code}"
    except httpx.HTTPError as failure:
        error = f"{type(failure).__name__}: {failure}" if str(failure) else type(failure).__name__
    finally:
        if owned:
            http.close()
    return _record(engine, settings, taken, status_code, response_text, error, rng=rng)


@dataclass(frozen=True)
class _Taken:
    delivery_id: uuid.UUID
    attempts: int
    event_id: uuid.UUID
    payload: dict[str, Any]
    endpoint_id: uuid.UUID
    url: str
    secret_encrypted: bytes
    active: bool


def _take(engine: sa.Engine, delivery_id: uuid.UUID, hold_seconds: float) -> _Taken | None:
    d, e = _deliveries.c, _endpoints.c
    with engine.begin() as connection:
        row = connection.execute(
            sa.update(_deliveries)
            .where(
                d.id == delivery_id,
                d.status == WebhookDeliveryStatus.PENDING,
                d.next_attempt_at <= sa.func.now(),
                e.id == d.endpoint_id,
            )
            .values(
                attempts=d.attempts + 1,
                last_attempt_at=sa.func.now(),
                next_attempt_at=sa.func.now() + timedelta(seconds=hold_seconds),
            )
            .returning(
                d.id, d.attempts, d.event_id, d.payload, e.id, e.url, e.secret_encrypted, e.active
            )
        ).one_or_none()
    return None if row is None else _Taken(*row)


def _record(
    engine: sa.Engine,
    settings: Settings,
    taken: _Taken,
    status_code: int | None,
    response_text: str,
    error: str | None,
    *,
    final: bool = False,
    rng: random.Random | None = None,
) -> AttemptOutcome:
    d = _deliveries.c
    values: dict[str, Any] = {
        "last_status_code": status_code,
        "last_response": response_text or None,
        "last_error": error,
    }
    delay: float | None = None
    if error is None:
        outcome: Literal["succeeded", "retrying", "failed"] = "succeeded"
        values |= {"status": WebhookDeliveryStatus.SUCCEEDED, "delivered_at": sa.func.now()}
    else:
        delay = (
            None
            if final
            else retry_delay(
                taken.attempts,
                settings.webhook_max_attempts,
                initial=settings.webhook_backoff_initial_seconds,
                maximum=settings.webhook_backoff_max_seconds,
                rng=rng,
            )
        )
        if delay is None:
            outcome = "failed"
            values["status"] = WebhookDeliveryStatus.FAILED
        else:
            outcome = "retrying"
            values["next_attempt_at"] = sa.func.now() + timedelta(seconds=delay)
    with engine.begin() as connection:
        connection.execute(
            sa.update(_deliveries)
            .where(
                d.id == taken.delivery_id,
                d.status == WebhookDeliveryStatus.PENDING,
                d.attempts == taken.attempts,
            )
            .values(values)
        )
    log.info(
        "webhook delivery attempt",
        extra={
            "delivery": str(taken.delivery_id),
            "endpoint": str(taken.endpoint_id),
            "attempt": taken.attempts,
            "outcome": outcome,
            "status_code": status_code,
            "error": error,
        },
    )
    return AttemptOutcome(taken.delivery_id, outcome, taken.attempts, status_code, error, delay)
