"""Automation rules at work: their firings (exactly once per rule and trigger) and each
tenant's position in its event log.

Revision ID: 0013_automation
Revises: 0012_retention
Create Date: 2026-12-03 15:00:00

``automation_firings`` holds one row per rule and triggering event or schedule slot (unique
``(rule_id, idempotency_key)``), ``automation_cursors`` how far the sweep has read each tenant's
``event_logs``. Rule names become unique per tenant (``rules save`` finds a rule by name).
``agentworker_automation_tenants`` is the sweep's one cross-tenant question: which tenants have
active rules (ids only).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_automation"
down_revision: str | None = "0012_retention"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RUNTIME_ROLE = "agentworker_runtime"
_TABLES = ("automation_firings", "automation_cursors")
_TENANTS_SIGNATURE = "agentworker_automation_tenants()"


def upgrade() -> None:
    op.create_unique_constraint(
        op.f("uq_automation_rules_tenant_id_rule_name"),
        "automation_rules",
        ["tenant_id", "rule_name"],
    )
    op.create_table(
        "automation_firings",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("rule_id", sa.UUID(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=255), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "fired",
                "refused",
                "failed",
                name="firing_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("event_log_id", sa.BigInteger(), nullable=True),
        sa.Column("schedule_slot", sa.DateTime(timezone=True), nullable=True),
        sa.Column("depth", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("task_id", sa.UUID(), nullable=True),
        sa.Column("workflow_execution_id", sa.UUID(), nullable=True),
        sa.Column("communication_id", sa.UUID(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("depth >= 0", name=op.f("ck_automation_firings_depth_nonnegative")),
        sa.ForeignKeyConstraint(
            ["communication_id"],
            ["ai_communications.id"],
            name=op.f("fk_automation_firings_communication_id_ai_communications"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["rule_id"],
            ["automation_rules.id"],
            name=op.f("fk_automation_firings_rule_id_automation_rules"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["tasks.id"],
            name=op.f("fk_automation_firings_task_id_tasks"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_automation_firings_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workflow_execution_id"],
            ["ai_workflow_executions.id"],
            name=op.f("fk_automation_firings_workflow_execution_id_ai_workflow_executions"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_automation_firings")),
        sa.UniqueConstraint(
            "rule_id", "idempotency_key", name=op.f("uq_automation_firings_rule_id_idempotency_key")
        ),
    )
    for column in ("communication_id", "rule_id", "task_id", "tenant_id", "workflow_execution_id"):
        op.create_index(
            op.f(f"ix_automation_firings_{column}"), "automation_firings", [column], unique=False
        )
    op.create_table(
        "automation_cursors",
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("writer_xid", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("event_id", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_automation_cursors_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_automation_cursors")),
    )
    for table in _TABLES:
        op.execute(f"SELECT agentworker_protect_tenant_table('{table}')")
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {RUNTIME_ROLE}")
    op.execute(
        "CREATE TRIGGER automation_cursors_set_updated_at BEFORE UPDATE ON automation_cursors "
        "FOR EACH ROW EXECUTE FUNCTION set_updated_at()"
    )
    schema = op.get_bind().exec_driver_sql("SELECT current_schema()").scalar_one()
    op.execute(
        f"CREATE FUNCTION {_TENANTS_SIGNATURE} RETURNS TABLE(tenant_id uuid) LANGUAGE sql STABLE "
        f"SECURITY DEFINER SET search_path = {schema}, pg_temp AS $$ "
        "SELECT DISTINCT r.tenant_id FROM automation_rules r JOIN tenants t ON t.id = r.tenant_id "
        "WHERE r.is_active AND t.is_active ORDER BY 1 $$"
    )
    op.execute(f"REVOKE ALL ON FUNCTION {_TENANTS_SIGNATURE} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {_TENANTS_SIGNATURE} TO {RUNTIME_ROLE}")


def downgrade() -> None:
    op.execute(f"DROP FUNCTION IF EXISTS {_TENANTS_SIGNATURE}")
    op.drop_table("automation_cursors")
    op.drop_table("automation_firings")
    op.drop_constraint(
        op.f("uq_automation_rules_tenant_id_rule_name"), "automation_rules", type_="unique"
    )
