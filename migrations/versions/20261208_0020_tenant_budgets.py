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


_SPEND_SIGNATURE = "agentworker_tenant_spend_now()"
#: Every tenant with a budget or a spend row in the current UTC day or month: its spend and
#: limit (a setting that is not a plain positive number reads as none; the workers refuse it
#: on the run, with the row named). For the metrics, which see no one tenant's rows.
_SPEND_BODY = """
WITH starts(period, period_start, key) AS (
    VALUES ('day', (now() AT TIME ZONE 'UTC')::date, 'budget.daily_usd'),
           ('month', date_trunc('month', now() AT TIME ZONE 'UTC')::date, 'budget.monthly_usd')
), limits AS (
    SELECT t.id AS tenant_id, t.slug, s.period, s.period_start, (
        SELECT CASE WHEN v.value #>> '{}' ~ '^[0-9]+([.][0-9]+)?$'
                    THEN (v.value #>> '{}')::numeric END
        FROM system_settings v
        WHERE v.key = s.key AND (v.tenant_id = t.id OR v.tenant_id IS NULL)
        ORDER BY v.tenant_id IS NULL LIMIT 1
    ) AS budget
    FROM tenants t CROSS JOIN starts s
)
SELECT l.slug::text, l.period, coalesce(sp.spent_usd, 0), coalesce(sp.llm_calls, 0)::bigint,
       l.budget, coalesce(sp.granted_usd, 0)
FROM limits l
LEFT JOIN tenant_spend sp
    ON sp.tenant_id = l.tenant_id AND sp.period = l.period AND sp.period_start = l.period_start
WHERE sp.tenant_id IS NOT NULL OR l.budget IS NOT NULL
ORDER BY 1, 2
"""


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
    schema = op.get_bind().exec_driver_sql("SELECT current_schema()").scalar_one()
    op.execute(
        f"CREATE FUNCTION {_SPEND_SIGNATURE} RETURNS TABLE(tenant text, period text, "
        "spent_usd numeric, llm_calls bigint, budget_usd numeric, granted_usd numeric) "
        f"LANGUAGE sql STABLE SECURITY DEFINER SET search_path = {schema}, pg_temp AS $$"
        f"{_SPEND_BODY}$$"
    )
    op.execute(f"REVOKE ALL ON FUNCTION {_SPEND_SIGNATURE} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {_SPEND_SIGNATURE} TO {RUNTIME_ROLE}")


def downgrade() -> None:
    op.execute(f"DROP FUNCTION IF EXISTS {_SPEND_SIGNATURE}")
    op.execute("DELETE FROM approvals WHERE kind = 'budget_grant'")
    _kind_check(_KINDS[:2])
    op.drop_index(op.f("ix_spend_reservations_tenant_id"), table_name="spend_reservations")
    op.drop_table("spend_reservations")
    op.drop_table("tenant_spend")
