"""A tenant's LLM spend per day and month, and approvals that grant more budget.

Revision ID: 0020_tenant_budgets
Revises: 0019_run_forks
Create Date: 2026-12-08 12:00:00

``tenant_spend`` is one row per (tenant, period, period start) that an LLM call of a budgeted
tenant is admitted under (``SELECT … FOR UPDATE``) and settled into; ``spend_reservations``
holds the calls in flight, each until it is settled or expires (``worker.agents.
tenant_budgets``). Both are tenant tables under row-level security. ``approvals.kind`` gains
``budget_grant``: a run (or a tenant) that reached a budget configured to ask waits for an
approver to grant more.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_tenant_budgets"
down_revision: str | None = "0019_run_forks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RUNTIME_ROLE = "agentworker_runtime"
_KINDS = ("workflow_step", "tool_call", "budget_grant")


def _kind_check(kinds: Sequence[str]) -> None:
    op.drop_constraint(op.f("ck_approvals_approval_kind"), "approvals", type_="check")
    listed = ", ".join(f"'{kind}'" for kind in kinds)
    op.create_check_constraint(
        op.f("ck_approvals_approval_kind"), "approvals", f"kind IN ({listed})"
    )


def upgrade() -> None:
    op.create_table(
        "tenant_spend",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column(
            "period",
            sa.Enum("day", "month", name="spend_period", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("spent_usd", sa.Numeric(), server_default=sa.text("0"), nullable=False),
        sa.Column("llm_calls", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("granted_usd", sa.Numeric(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_tenant_spend_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "tenant_id", "period", "period_start", name=op.f("pk_tenant_spend")
        ),
    )
    op.create_table(
        "spend_reservations",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("agent_run_id", sa.UUID(), nullable=True),
        sa.Column("estimate_usd", sa.Numeric(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_spend_reservations_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_spend_reservations")),
    )
    op.create_index(
        op.f("ix_spend_reservations_tenant_id"), "spend_reservations", ["tenant_id"], unique=False
    )
    for table in ("tenant_spend", "spend_reservations"):
        op.execute(f"SELECT agentworker_protect_tenant_table('{table}')")
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {RUNTIME_ROLE}")
    op.execute(
        "CREATE TRIGGER tenant_spend_set_updated_at BEFORE UPDATE ON tenant_spend "
        "FOR EACH ROW EXECUTE FUNCTION set_updated_at()"
    )
    _kind_check(_KINDS)


def downgrade() -> None:
    op.execute("DELETE FROM approvals WHERE kind = 'budget_grant'")
    _kind_check(_KINDS[:2])
    op.drop_index(op.f("ix_spend_reservations_tenant_id"), table_name="spend_reservations")
    op.drop_table("spend_reservations")
    op.drop_table("tenant_spend")
