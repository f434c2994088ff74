"""What each tenant spends on LLM calls per day and per month, kept exact under concurrency
(issue 16, ``worker.agents.tenant_budgets``).

``tenant_spend`` holds one row per (tenant, period, period start): what the tenant's calls cost
in that UTC day or month, how many there were, and what approvers granted above the configured
limit (``system_settings`` ``budget.daily_usd`` / ``budget.monthly_usd``). A call is admitted
under the rows' lock and leaves a ``spend_reservations`` row while it is in flight; the
reservation expires, so a worker that dies mid-call blocks nobody.
"""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Date, ForeignKey, Numeric, func, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAt, TenantOwned, UUIDPrimaryKey, text_enum

__all__ = ["SpendPeriod", "SpendReservation", "TenantSpend"]


class SpendPeriod(enum.StrEnum):
    DAY = "day"
    MONTH = "month"


class TenantSpend(Base):
    """A tenant's LLM spend in one UTC day or month."""

    __tablename__ = "tenant_spend"

    tenant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    period: Mapped[SpendPeriod] = mapped_column(
        text_enum(SpendPeriod, "spend_period"), primary_key=True
    )
    #: The period's first day (UTC): the day itself, or the first of the month.
    period_start: Mapped[date] = mapped_column(Date, primary_key=True)
    spent_usd: Mapped[Decimal] = mapped_column(
        Numeric, default=Decimal(0), server_default=text("0")
    )
    llm_calls: Mapped[int] = mapped_column(BigInteger, default=0, server_default=text("0"))
    #: Dollars approvers granted above the configured limit for this period.
    granted_usd: Mapped[Decimal] = mapped_column(
        Numeric, default=Decimal(0), server_default=text("0")
    )
    updated_at: Mapped[datetime] = mapped_column(
        server_default=func.now(), onupdate=func.now(), nullable=False
    )


class SpendReservation(UUIDPrimaryKey, TenantOwned, CreatedAt, Base):
    """One admitted LLM call of a budgeted tenant, in flight until it is settled or expires."""

    __tablename__ = "spend_reservations"

    #: The run that makes the call (no FK: a reservation outlives nothing but its call).
    agent_run_id: Mapped[uuid.UUID | None]
    estimate_usd: Mapped[Decimal] = mapped_column(Numeric)
    expires_at: Mapped[datetime]
