"""What running ``automation_rules`` leaves behind (issue 14): one firing per rule and
triggering event or schedule slot, and each tenant's position in its event log.

``automation_firings`` makes a rule fire exactly once per trigger: its ``idempotency_key``
(``event:<event id>`` or ``schedule:<slot>``) is unique per rule, and the action it started is
submitted with the same key. A refused firing (its trigger came from a chain of firings as deep
as the limit) and a failed one (the action could not be started) are rows too.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAt, TenantOwned, UUIDPrimaryKey, fk, text_enum

__all__ = ["AutomationCursor", "AutomationFiring", "FiringStatus"]


class FiringStatus(enum.StrEnum):
    FIRED = "fired"
    REFUSED = "refused"
    FAILED = "failed"


class AutomationFiring(UUIDPrimaryKey, TenantOwned, CreatedAt, Base):
    """One rule fired (or refused to fire) for one event or schedule slot."""

    __tablename__ = "automation_firings"
    __table_args__ = (
        UniqueConstraint("rule_id", "idempotency_key"),
        CheckConstraint("depth >= 0", name="depth_nonnegative"),
    )

    rule_id: Mapped[uuid.UUID] = fk("automation_rules.id", ondelete="CASCADE", nullable=False)
    idempotency_key: Mapped[str] = mapped_column(String(255))
    status: Mapped[FiringStatus] = mapped_column(text_enum(FiringStatus, "firing_status"))
    #: The triggering event (no FK: retention may delete events, the firing stays).
    event_log_id: Mapped[int | None] = mapped_column(BigInteger)
    schedule_slot: Mapped[datetime | None]
    #: 1 for a firing on an ordinary event or a slot; one more than the firing that caused
    #: the triggering event otherwise.
    depth: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(32))
    task_id: Mapped[uuid.UUID | None] = fk("tasks.id", ondelete="SET NULL", nullable=True)
    workflow_execution_id: Mapped[uuid.UUID | None] = fk(
        "ai_workflow_executions.id", ondelete="SET NULL", nullable=True
    )
    communication_id: Mapped[uuid.UUID | None] = fk(
        "ai_communications.id", ondelete="SET NULL", nullable=True
    )
    error: Mapped[str | None] = mapped_column(Text)


class AutomationCursor(Base):
    """How far the rule sweep has read a tenant's ``event_logs``, in commit-safe order
    (``worker.durable.event_order``)."""

    __tablename__ = "automation_cursors"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    writer_xid: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    event_id: Mapped[int] = mapped_column(BigInteger, server_default=text("0"))
    updated_at: Mapped[datetime] = mapped_column(
        server_default=func.now(), onupdate=func.now(), nullable=False
    )
