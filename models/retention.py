"""What retention removed, kept as totals so figures that are sums over rows stay right.

Retention (``worker.ops.retention``) deletes old rows in small batches; in the same transaction
as each batch it adds what the deleted rows contributed to a figure (tasks by final status, LLM
calls, tokens, cost, the LLM latency histogram, rows removed per policy) to these totals. The
fleet metrics (``agentworker_fleet_metrics``, migration 0012) add them back, so a counter does
not drop when history is pruned.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import BigInteger, Identity, Numeric, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, TenantOrShared


class RetainedTotal(TenantOrShared, Base):
    """One (figure, label) total of deleted rows, per tenant (NULL: rows of no tenant)."""

    __tablename__ = "retained_totals"
    __table_args__ = (
        UniqueConstraint("tenant_id", "figure", "label", postgresql_nulls_not_distinct=True),
    )

    id: Mapped[int] = mapped_column(
        BigInteger, Identity(always=False), primary_key=True, sort_order=-100
    )
    #: The figure of ``agentworker_fleet_metrics``: ``tasks``, ``llm_calls``, ``cost``,
    #: ``latency_count``, ``retention_deleted``, …
    figure: Mapped[str] = mapped_column(String(64))
    #: Its label (a status, a metric name, a policy), ``''`` for none.
    label: Mapped[str] = mapped_column(Text, default="", server_default=text("''"))
    value: Mapped[Decimal] = mapped_column(Numeric, default=Decimal(0), server_default=text("0"))
