"""Sending the email rows of ``ai_communications`` (approval messages, the ``send_email``
tool): PENDING until the SMTP server has taken the message, then SENT with ``sent_at``, or
FAILED with the reason (a permanent refusal, or transient errors ``email_max_attempts``
times).

One worker sends a row at a time: taking it is an upsert of its ``email_deliveries`` row
guarded on ``next_attempt_at`` (pushed past the send's timeout while it runs). A worker that
dies after the server took the message and before SENT was recorded sends it again later with
the same ``Message-ID`` (derived from the row id), so a receiver can drop the copy.

Without ``AGENTWORKER_SMTP_URL`` nothing is sent: rows stay PENDING and the sweep says so.
"""

from __future__ import annotations

import logging
import random
import uuid
from dataclasses import dataclass
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert

from models import (
    AICommunication,
    CommunicationType,
    DeliveryStatus,
    EmailDelivery,
    RecipientType,
    User,
)
from worker.core.settings import Settings
from worker.notifications.retry import retry_delay
from worker.notifications.smtp import SmtpConfig, SmtpFailure, send_message

__all__ = ["NOT_CONFIGURED", "PUBLIC_URL", "EmailOutcome", "deliver_email", "message_id_of"]

log = logging.getLogger(__name__)

_communications: sa.Table = AICommunication.__table__  # type: ignore[assignment]
_deliveries: sa.Table = EmailDelivery.__table__  # type: ignore[assignment]

#: Rows wait for this, in one line.
NOT_CONFIGURED = (
    "AGENTWORKER_SMTP_URL is not set, so no email is sent: email rows stay PENDING; set it "
    "(e.g. smtp://user:password@mail.example.com:587?starttls=1) and they are sent"
)
#: In a row's content, replaced at sending by ``AGENTWORKER_PUBLIC_URL`` (approval links).
PUBLIC_URL = "{public_url}"
_BACKOFF_INITIAL = 30.0
_BACKOFF_MAX = 1800.0


@dataclass(frozen=True)
class EmailOutcome:
    communication_id: uuid.UUID
    #: skipped: not an email, not PENDING, or another worker holds it.
    outcome: Literal["sent", "retrying", "failed", "skipped", "not_configured"]
    attempts: int = 0
    error: str | None = None


def message_id_of(communication_id: uuid.UUID, sender: str) -> str:
    """The row's Message-ID: the same for every attempt."""
    domain = sender.rpartition("@")[2] or "agentworker.invalid"
    return f"<{communication_id}@{domain}>"


def deliver_email(
    engine: sa.Engine,
    settings: Settings,
    communication_id: uuid.UUID,
    *,
    rng: random.Random | None = None,
) -> EmailOutcome:
    """One attempt at sending email row ``communication_id`` (inside its tenant's scope)."""
    if not settings.smtp_url:
        log.warning(
            NOT_CONFIGURED, extra={"communication": str(communication_id), "action": "email"}
        )
        return EmailOutcome(communication_id, "not_configured", error=NOT_CONFIGURED)
    config = SmtpConfig.from_url(settings.smtp_url)
    message_id = message_id_of(communication_id, settings.email_from)
    taken = _take(engine, communication_id, message_id, settings.smtp_timeout_seconds * 3 + 30)
    if taken is None:
        return EmailOutcome(communication_id, "skipped")
    attempts, row, address = taken
    if address is None:
        return _record(
            engine,
            settings,
            communication_id,
            attempts,
            "the message has no recipient address (personalization_data.to, or the "
            "recipient user's email); store one and send it again",
            transient=False,
            rng=rng,
        )
    message = _message(settings, row, address, message_id)
    try:
        send_message(config, message, timeout=settings.smtp_timeout_seconds)
    except SmtpFailure as failure:
        return _record(
            engine,
            settings,
            communication_id,
            attempts,
            str(failure),
            transient=failure.transient,
            rng=rng,
        )
    return _record(engine, settings, communication_id, attempts, None, transient=False, rng=rng)


def _take(
    engine: sa.Engine, communication_id: uuid.UUID, message_id: str, hold_seconds: float
) -> tuple[int, sa.Row[Any], str | None] | None:
    c = _communications.c
    held_until = sa.func.now() + timedelta(seconds=hold_seconds)
    with engine.begin() as connection:
        row = connection.execute(
            sa.select(_communications).where(
                c.id == communication_id,
                c.communication_type == CommunicationType.EMAIL,
                c.delivery_status == DeliveryStatus.PENDING,
            )
        ).one_or_none()
        if row is None:
            return None
        statement = insert(_deliveries).values(
            communication_id=communication_id,
            tenant_id=row.tenant_id,
            attempts=1,
            next_attempt_at=held_until,
            message_id=message_id,
        )
        attempts = connection.execute(
            statement.on_conflict_do_update(
                index_elements=[_deliveries.c.communication_id],
                set_={
                    "attempts": _deliveries.c.attempts + 1,
                    "next_attempt_at": held_until,
                    "message_id": message_id,
                },
                where=_deliveries.c.next_attempt_at <= sa.func.now(),
            ).returning(_deliveries.c.attempts)
        ).scalar_one_or_none()
        if attempts is None:
            return None
        return attempts, row, _address(connection, row)


def _address(connection: sa.Connection, row: sa.Row[Any]) -> str | None:
    to = (row.personalization_data or {}).get("to")
    if isinstance(to, str) and "@" in to:
        return to
    if row.recipient_type == RecipientType.USER:
        email = connection.execute(
            sa.select(User.email).where(User.id == row.recipient_id)
        ).scalar_one_or_none()
        return str(email) if email else None
    return None


def _message(settings: Settings, row: sa.Row[Any], address: str, message_id: str) -> EmailMessage:
    base = settings.public_url.rstrip("/")
    message = EmailMessage()
    message["From"] = settings.email_from
    message["To"] = formataddr(("", address)) if "<" not in address else address
    message["Subject"] = (row.subject or "").replace(PUBLIC_URL, base) or "(no subject)"
    message["Message-ID"] = message_id
    message["Date"] = format_datetime(row.created_at)
    message["X-AgentWorker-Communication"] = str(row.id)
    message.set_content(row.content.replace(PUBLIC_URL, base))
    return message


def _record(
    engine: sa.Engine,
    settings: Settings,
    communication_id: uuid.UUID,
    attempts: int,
    error: str | None,
    *,
    transient: bool,
    rng: random.Random | None,
) -> EmailOutcome:
    c, d = _communications.c, _deliveries.c
    delay = (
        retry_delay(
            attempts,
            settings.email_max_attempts,
            initial=_BACKOFF_INITIAL,
            maximum=_BACKOFF_MAX,
            rng=rng,
        )
        if error is not None and transient
        else None
    )
    pending = (c.id == communication_id, c.delivery_status == DeliveryStatus.PENDING)
    with engine.begin() as connection:
        if error is None:
            outcome: Literal["sent", "retrying", "failed"] = "sent"
            connection.execute(
                sa.update(_communications)
                .where(*pending)
                .values(delivery_status=DeliveryStatus.SENT, sent_at=sa.func.now())
            )
            delivery: dict[str, Any] = {"last_error": None, "next_attempt_at": sa.func.now()}
        elif delay is not None:
            outcome = "retrying"
            delivery = {
                "last_error": error,
                "next_attempt_at": sa.func.now() + timedelta(seconds=delay),
            }
        else:
            outcome = "failed"
            connection.execute(
                sa.update(_communications)
                .where(*pending)
                .values(
                    delivery_status=DeliveryStatus.FAILED,
                    engagement_metrics=c.engagement_metrics.op("||")(
                        sa.func.jsonb_build_object(
                            "delivery_error", error, "delivery_attempts", attempts
                        )
                    ),
                )
            )
            delivery = {"last_error": error, "next_attempt_at": sa.func.now()}
        connection.execute(
            sa.update(_deliveries)
            .where(d.communication_id == communication_id, d.attempts == attempts)
            .values(delivery)
        )
    log.info(
        "email delivery attempt",
        extra={
            "communication": str(communication_id),
            "attempt": attempts,
            "outcome": outcome,
            "error": error,
            "action": "email",
        },
    )
    return EmailOutcome(communication_id, outcome, attempts, error)
