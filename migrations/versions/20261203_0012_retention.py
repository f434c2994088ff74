"""Retention: the totals of deleted rows, and fleet metrics that add them back.

Revision ID: 0012_retention
Revises: 0011_event_order
Create Date: 2026-12-03 14:00:00

Retention (``worker.ops.retention``) deletes old rows in small batches. Figures that are sums
over rows (tasks by final status, LLM calls, tokens, cost, the LLM latency histogram) would drop
when their rows go, so each batch adds what its rows contributed to ``retained_totals`` in the
same transaction, and ``agentworker_fleet_metrics`` now returns the live rows' figures plus
those totals (grouped, one value per figure and label). The function keeps its signature, its
owner and its grants (``CREATE OR REPLACE``). No existing table is rewritten.
"""

import importlib.util
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision: str = "0012_retention"
down_revision: str | None = "0011_event_order"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SIGNATURE = (
    "agentworker_fleet_metrics(latency_prefix text, latency_suffix text, bounds_ms numeric[]) "
    "RETURNS TABLE(figure text, label text, value numeric)"
)


def _live_body() -> str:
    """The body revision 0007 created: the figures of the rows that exist."""
    path = Path(__file__).with_name("20261202_0007_row_level_security.py")
    spec = importlib.util.spec_from_file_location("_aw_revision_0007", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return str(module._DEFINER_FUNCTIONS[_SIGNATURE])


def _replace_fleet_metrics(body: str) -> None:
    schema = op.get_bind().exec_driver_sql("SELECT current_schema()").scalar_one()
    op.execute(
        f"CREATE OR REPLACE FUNCTION {_SIGNATURE} LANGUAGE sql STABLE SECURITY DEFINER "
        f"SET search_path = {schema}, pg_temp AS $$ {body} $$"
    )


def upgrade() -> None:
    op.create_table(
        "retained_totals",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=True),
        sa.Column("figure", sa.String(length=64), nullable=False),
        sa.Column("label", sa.Text(), server_default=sa.text("''"), nullable=False),
        sa.Column("value", sa.Numeric(), server_default=sa.text("0"), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_retained_totals_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retained_totals")),
        sa.UniqueConstraint(
            "tenant_id",
            "figure",
            "label",
            name=op.f("uq_retained_totals_tenant_id_figure_label"),
            postgresql_nulls_not_distinct=True,
        ),
    )
    op.create_index(
        op.f("ix_retained_totals_tenant_id"), "retained_totals", ["tenant_id"], unique=False
    )
    op.execute("SELECT agentworker_protect_tenant_table('retained_totals')")
    _replace_fleet_metrics(
        f"SELECT f.figure, f.label, sum(f.value) FROM ({_live_body()}"
        " UNION ALL SELECT r.figure, r.label, r.value FROM retained_totals r)"
        " AS f(figure, label, value) GROUP BY f.figure, f.label"
    )


def downgrade() -> None:
    _replace_fleet_metrics(_live_body())
    op.drop_index(op.f("ix_retained_totals_tenant_id"), table_name="retained_totals")
    op.drop_table("retained_totals")
