"""Ticket sales: ticket types with price and stock (``tickets``, seed 000's ``ticket.py``),
``orders`` and their ``order_items`` (seed 001's ERD), and ``payments`` against an order at an
external provider (seed 000's ``payment.py``)."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import (
    NO_IMPLICIT_IO,
    Base,
    TenantOwned,
    Timestamps,
    UUIDPrimaryKey,
    fk,
    text_enum,
)

if TYPE_CHECKING:
    from models.conference.attendees import Attendee
    from models.conference.events import Event

__all__ = [
    "Order",
    "OrderItem",
    "OrderStatus",
    "Payment",
    "PaymentStatus",
    "Ticket",
    "TicketType",
]


class TicketType(enum.StrEnum):
    GENERAL = "general"
    VIP = "vip"
    EARLY_BIRD = "early_bird"
    STUDENT = "student"
    SPEAKER = "speaker"
    SPONSOR = "sponsor"
    VIRTUAL = "virtual"


class OrderStatus(enum.StrEnum):
    PENDING = "pending"
    PAID = "paid"
    REFUNDED = "refunded"
    CANCELLED = "cancelled"


class PaymentStatus(enum.StrEnum):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REFUNDED = "refunded"


class Ticket(UUIDPrimaryKey, TenantOwned, Timestamps, Base):
    """A ticket type of an event with its price and stock; ``quantity_total`` NULL = unlimited."""

    __tablename__ = "tickets"
    __table_args__ = (
        CheckConstraint("price >= 0", name="price_nonnegative"),
        CheckConstraint("quantity_total >= 0", name="quantity_total_nonnegative"),
        CheckConstraint("quantity_sold >= 0", name="quantity_sold_nonnegative"),
        CheckConstraint(
            "quantity_total IS NULL OR quantity_sold <= quantity_total", name="not_oversold"
        ),
        CheckConstraint("sales_end > sales_start", name="sales_window_ordered"),
    )

    event_id: Mapped[uuid.UUID] = fk("events.id", ondelete="CASCADE", nullable=False)
    name: Mapped[str] = mapped_column(String(255))
    ticket_type: Mapped[TicketType] = mapped_column(
        text_enum(TicketType, "ticket_type"), default=TicketType.GENERAL
    )
    price: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    currency: Mapped[str] = mapped_column(String(3), default="USD", server_default=text("'USD'"))
    quantity_total: Mapped[int | None] = mapped_column(Integer)
    quantity_sold: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    sales_start: Mapped[datetime | None]
    sales_end: Mapped[datetime | None]

    event: Mapped[Event] = relationship(back_populates="tickets", lazy=NO_IMPLICIT_IO)
    order_items: Mapped[list[OrderItem]] = relationship(
        back_populates="ticket", passive_deletes="all", lazy=NO_IMPLICIT_IO
    )


class Order(UUIDPrimaryKey, TenantOwned, Timestamps, Base):
    """A ticket order for an event; it outlives the attendee record that placed it."""

    __tablename__ = "orders"
    __table_args__ = (CheckConstraint("total_amount >= 0", name="total_amount_nonnegative"),)

    event_id: Mapped[uuid.UUID] = fk("events.id", ondelete="CASCADE", nullable=False)
    attendee_id: Mapped[uuid.UUID | None] = fk("attendees.id", ondelete="SET NULL", nullable=True)
    status: Mapped[OrderStatus] = mapped_column(
        text_enum(OrderStatus, "order_status"), default=OrderStatus.PENDING
    )
    total_amount: Mapped[Decimal] = mapped_column(
        Numeric(12, 2), default=Decimal("0"), server_default=text("0")
    )
    currency: Mapped[str] = mapped_column(String(3), default="USD", server_default=text("'USD'"))
    placed_at: Mapped[datetime] = mapped_column(server_default=func.now())

    event: Mapped[Event] = relationship(back_populates="orders", lazy=NO_IMPLICIT_IO)
    attendee: Mapped[Attendee | None] = relationship(back_populates="orders", lazy=NO_IMPLICIT_IO)
    items: Mapped[list[OrderItem]] = relationship(
        back_populates="order",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy=NO_IMPLICIT_IO,
    )
    payments: Mapped[list[Payment]] = relationship(
        back_populates="order",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy=NO_IMPLICIT_IO,
    )


class OrderItem(UUIDPrimaryKey, TenantOwned, Timestamps, Base):
    """A line of an order; a ticket type that has been sold cannot be deleted."""

    __tablename__ = "order_items"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("unit_price >= 0", name="unit_price_nonnegative"),
    )

    order_id: Mapped[uuid.UUID] = fk("orders.id", ondelete="CASCADE", nullable=False)
    # Not RESTRICT: PostgreSQL checks RESTRICT (and non-deferred NO ACTION) inside the cascade,
    # so deleting an event or tenant with sold tickets would fail. Deferred, a sold ticket type
    # still cannot be deleted on its own (the check fails at commit).
    ticket_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tickets.id", ondelete="NO ACTION", deferrable=True, initially="DEFERRED"),
        nullable=False,
        index=True,
    )
    quantity: Mapped[int] = mapped_column(Integer, default=1, server_default=text("1"))
    unit_price: Mapped[Decimal] = mapped_column(Numeric(12, 2))

    order: Mapped[Order] = relationship(back_populates="items", lazy=NO_IMPLICIT_IO)
    ticket: Mapped[Ticket] = relationship(back_populates="order_items", lazy=NO_IMPLICIT_IO)


class Payment(UUIDPrimaryKey, TenantOwned, Timestamps, Base):
    """A payment attempt against an order at an external provider."""

    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        UniqueConstraint("provider", "provider_reference"),
    )

    order_id: Mapped[uuid.UUID] = fk("orders.id", ondelete="CASCADE", nullable=False)
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    currency: Mapped[str] = mapped_column(String(3), default="USD", server_default=text("'USD'"))
    provider: Mapped[str] = mapped_column(String(50))
    provider_reference: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[PaymentStatus] = mapped_column(
        text_enum(PaymentStatus, "payment_status"), default=PaymentStatus.PENDING
    )
    paid_at: Mapped[datetime | None]
    details: Mapped[dict[str, Any]] = mapped_column(
        default=dict, server_default=text("'{}'::jsonb")
    )

    order: Mapped[Order] = relationship(back_populates="payments", lazy=NO_IMPLICIT_IO)
