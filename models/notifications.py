"""Notifications that reach people (issue 13): a tenant's webhook endpoints, the outbox of
their deliveries, and the delivery state of emails (``ai_communications`` rows of type email).

A delivery row is written by the database in the transaction of the state change it reports
(the triggers of migration 0009), so an event is never lost nor invented; a worker then POSTs
it, signed the Standard Webhooks way, and records each attempt's outcome on the row.
``next_attempt_at`` is both when the next attempt is due and, while an attempt runs, how long
the worker that took it holds it: a worker that dies lets go of it then.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, TenantOwned, Timestamps, UUIDPrimaryKey, fk, text_enum

#: What an endpoint may subscribe to; ``execution.*`` (or ``*``) subscribes to a family.
WEBHOOK_EVENT_TYPES = (
    "approval.requested",
    "approval.decided",
    "task.succeeded",
    "task.failed",
    "execution.started",
    "execution.waiting",
    "execution.resumed",
    "execution.succeeded",
    "execution.failed",
    "execution.cancelled",
)


class WebhookDeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class WebhookEndpoint(UUIDPrimaryKey, TenantOwned, Timestamps, Base):
    """Where a tenant wants its events POSTed, and the secret they are signed with."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (
        CheckConstraint("cardinality(event_types) > 0", name="subscribes_to_something"),
    )

    url: Mapped[str] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(String(200))
    #: ``whsec_<base64>``, encrypted (``worker.security.encryption.SecretBox``).
    secret_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    event_types: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
    active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))


class WebhookDelivery(UUIDPrimaryKey, TenantOwned, Timestamps, Base):
    """One event for one endpoint: the outbox row and the record of its attempts."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        CheckConstraint("attempts >= 0", name="attempts_nonnegative"),
        Index(
            "ix_webhook_deliveries_due",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
        ),
    )

    endpoint_id: Mapped[uuid.UUID] = fk("webhook_endpoints.id", ondelete="CASCADE", nullable=False)
    event_type: Mapped[str] = mapped_column(String(64))
    #: The ``webhook-id`` header: the same for every attempt and every endpoint of one event,
    #: so a receiver can drop a duplicate.
    event_id: Mapped[uuid.UUID] = mapped_column(index=True)
    #: The body sent: ``{"type", "timestamp", "data"}``.
    payload: Mapped[dict[str, Any]] = mapped_column()
    status: Mapped[WebhookDeliveryStatus] = mapped_column(
        text_enum(WebhookDeliveryStatus, "webhook_delivery_status"),
        default=WebhookDeliveryStatus.PENDING,
        server_default=text("'pending'"),
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    next_attempt_at: Mapped[datetime] = mapped_column(server_default=func.now())
    last_attempt_at: Mapped[datetime | None] = mapped_column()
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    #: The start of the last response's body.
    last_response: Mapped[str | None] = mapped_column(Text)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column()
    #: A delivery made again from the CLI (``agentworker webhooks resend``) names its original.
    resent_from_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="SET NULL"), nullable=True
    )


class EmailDelivery(UUIDPrimaryKey, TenantOwned, Timestamps, Base):
    """How the sending of one email ``ai_communications`` row goes: its attempts, the
    Message-ID it is sent with, and the last error. The row's ``delivery_status`` says the
    outcome (PENDING until sent, SENT, or FAILED)."""

    __tablename__ = "email_deliveries"
    __table_args__ = (CheckConstraint("attempts >= 0", name="attempts_nonnegative"),)

    communication_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("ai_communications.id", ondelete="CASCADE"), unique=True
    )
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    next_attempt_at: Mapped[datetime] = mapped_column(server_default=func.now())
    message_id: Mapped[str | None] = mapped_column(String(255))
    last_error: Mapped[str | None] = mapped_column(Text)


__all__ = [
    "WEBHOOK_EVENT_TYPES",
    "EmailDelivery",
    "WebhookDelivery",
    "WebhookDeliveryStatus",
    "WebhookEndpoint",
]
