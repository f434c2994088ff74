"""Initial schema: every seed system, the pgvector extension and updated_at triggers.

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-25 09:10:14.894908
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from pgvector.sqlalchemy import Vector
from sqlalchemy.dialects import postgresql

from models.knowledge import embedding_dimension

revision: str = "0001_initial"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


#: Tables whose ``updated_at`` a trigger keeps current, also for raw SQL updates.
TABLES_WITH_UPDATED_AT = (
    "tenants",
    "users",
    "ai_agents",
    "ai_models",
    "ai_workflows",
    "audit_logs",
    "automation_rules",
    "content_templates",
    "events",
    "knowledge_sources",
    "projects",
    "system_settings",
    "tenant_memberships",
    "attendees",
    "budgets",
    "chunks",
    "interviews",
    "speakers",
    "sponsors",
    "tickets",
    "tracks",
    "venues",
    "ai_workflow_executions",
    "budget_line_items",
    "contracts",
    "orders",
    "prompts",
    "rooms",
    "sponsorship_packages",
    "conference_sessions",
    "order_items",
    "payments",
    "tasks",
    "agent_runs",
    "board_tasks",
    "session_attendance",
    "session_speakers",
    "action_logs",
    "approvals",
    "chat_sessions",
    "commits",
    "ai_workflow_step_runs",
)


def _create_updated_at_triggers() -> None:
    op.execute(
        """
        CREATE FUNCTION set_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            NEW.updated_at := now();
            RETURN NEW;
        END
        $$
        """
    )
    for table in TABLES_WITH_UPDATED_AT:
        op.execute(
            f"CREATE TRIGGER {table}_set_updated_at BEFORE UPDATE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION set_updated_at()"
        )


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS vector")
    op.create_table(
        "tenants",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("slug", sa.String(length=100), nullable=False),
        sa.Column("api_key_hash", sa.String(length=128), nullable=True),
        sa.Column(
            "provider_configs",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column(
            "metadata",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenants")),
        sa.UniqueConstraint("api_key_hash", name=op.f("uq_tenants_api_key_hash")),
        sa.UniqueConstraint("slug", name=op.f("uq_tenants_slug")),
    )
    op.create_index(op.f("ix_tenants_is_active"), "tenants", ["is_active"], unique=False)
    op.create_index(op.f("ix_tenants_name"), "tenants", ["name"], unique=False)
    op.create_table(
        "users",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("full_name", sa.String(length=255), nullable=True),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("is_superuser", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column(
            "metadata",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_table(
        "ai_agents",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "type",
            sa.Enum(
                "content",
                "recommendation",
                "networking",
                "analytics",
                "support",
                "marketing",
                "onsite",
                "sponsorship",
                "feedback",
                "scheduling",
                "sales",
                "procurement",
                "insights",
                "engagement",
                "voice",
                "behavior",
                "reporting",
                "hybrid",
                "emotion",
                "sustainability",
                name="agent_type",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "active",
                "inactive",
                "training",
                "maintenance",
                name="agent_status",
                native_enum=False,
                create_constraint=True,
            ),
            server_default="active",
            nullable=False,
        ),
        sa.Column("version", sa.Text(), nullable=False),
        sa.Column(
            "configuration",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "performance_metrics",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_ai_agents_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ai_agents")),
        sa.UniqueConstraint(
            "tenant_id",
            "name",
            name=op.f("uq_ai_agents_tenant_id_name"),
            postgresql_nulls_not_distinct=True,
        ),
    )
    op.create_index(op.f("ix_ai_agents_tenant_id"), "ai_agents", ["tenant_id"], unique=False)
    op.create_table(
        "ai_models",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=True),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("provider", sa.String(length=50), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("base_url", sa.String(length=500), nullable=True),
        sa.Column("api_key_encrypted", sa.LargeBinary(), nullable=True),
        sa.Column(
            "usage_type",
            sa.Enum(
                "interview",
                "prompt_generation",
                "commit_generation",
                "task_execution",
                "general",
                "embedding",
                name="usage_type",
                native_enum=False,
                create_constraint=True,
            ),
            server_default="general",
            nullable=False,
        ),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column(
            "config",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_ai_models_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ai_models")),
        sa.UniqueConstraint(
            "tenant_id",
            "name",
            name=op.f("uq_ai_models_tenant_id_name"),
            postgresql_nulls_not_distinct=True,
        ),
    )
    op.create_index(op.f("ix_ai_models_is_active"), "ai_models", ["is_active"], unique=False)
    op.create_index(op.f("ix_ai_models_provider"), "ai_models", ["provider"], unique=False)
    op.create_index(op.f("ix_ai_models_tenant_id"), "ai_models", ["tenant_id"], unique=False)
    op.create_index(op.f("ix_ai_models_usage_type"), "ai_models", ["usage_type"], unique=False)
    op.create_table(
        "ai_workflows",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "workflow_type",
            sa.Enum(
                "content_generation",
                "attendee_personalization",
                "sponsor_management",
                "real_time_operations",
                "analytics_insights",
                "predictive_maintenance",
                "event_planning",
                name="workflow_type",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "draft",
                "active",
                "paused",
                "archived",
                name="workflow_status",
                native_enum=False,
                create_constraint=True,
            ),
            server_default="draft",
            nullable=False,
        ),
        sa.Column(
            "configuration",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "steps",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "triggers",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_ai_workflows_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ai_workflows")),
        sa.UniqueConstraint(
            "tenant_id",
            "name",
            name=op.f("uq_ai_workflows_tenant_id_name"),
            postgresql_nulls_not_distinct=True,
        ),
    )
    op.create_index(op.f("ix_ai_workflows_tenant_id"), "ai_workflows", ["tenant_id"], unique=False)
    op.create_table(
        "audit_logs",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=True),
        sa.Column("actor", sa.String(length=255), nullable=True),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("resource_type", sa.String(length=100), nullable=False),
        sa.Column("resource_id", sa.String(length=255), nullable=True),
        sa.Column(
            "changes",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("ip_address", sa.String(length=45), nullable=True),
        sa.Column("user_agent", sa.Text(), nullable=True),
        sa.Column(
            "metadata",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_audit_logs_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_audit_logs_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_logs")),
    )
    op.create_index(op.f("ix_audit_logs_action"), "audit_logs", ["action"], unique=False)
    op.create_index(
        "ix_audit_logs_resource", "audit_logs", ["resource_type", "resource_id"], unique=False
    )
    op.create_index(op.f("ix_audit_logs_tenant_id"), "audit_logs", ["tenant_id"], unique=False)
    op.create_index(
        "ix_audit_logs_tenant_id_created_at",
        "audit_logs",
        ["tenant_id", "created_at"],
        unique=False,
    )
    op.create_index(op.f("ix_audit_logs_user_id"), "audit_logs", ["user_id"], unique=False)
    op.create_table(
        "automation_rules",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("rule_name", sa.Text(), nullable=False),
        sa.Column(
            "rule_type",
            sa.Enum(
                "trigger",
                "condition",
                "action",
                "sequence",
                name="rule_type",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("trigger_conditions", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("action_definitions", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.Column("execution_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "success_rate",
            sa.Numeric(precision=3, scale=2),
            server_default=sa.text("0.0"),
            nullable=False,
        ),
        sa.Column("last_executed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_automation_rules_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_automation_rules")),
    )
    op.create_index(
        op.f("ix_automation_rules_tenant_id"), "automation_rules", ["tenant_id"], unique=False
    )
    op.create_table(
        "content_templates",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=True),
        sa.Column("template_name", sa.Text(), nullable=False),
        sa.Column("template_type", sa.Text(), nullable=False),
        sa.Column("template_content", sa.Text(), nullable=False),
        sa.Column(
            "variables",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "brand_guidelines",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("usage_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "success_rate",
            sa.Numeric(precision=3, scale=2),
            server_default=sa.text("0.0"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_content_templates_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_content_templates")),
    )
    op.create_index(
        op.f("ix_content_templates_tenant_id"), "content_templates", ["tenant_id"], unique=False
    )
    op.create_table(
        "events",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "brief_json",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("city", sa.String(length=255), nullable=True),
        sa.Column("venue_pref", sa.Text(), nullable=True),
        sa.Column("start_date", sa.DateTime(timezone=True), nullable=True),
        sa.Column("end_date", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "planning",
                "confirmed",
                "live",
                "completed",
                "cancelled",
                name="event_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("expected_attendees", sa.Integer(), nullable=True),
        sa.Column("budget_total", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("currency", sa.String(length=3), server_default=sa.text("'USD'"), nullable=False),
        sa.Column(
            "metadata",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("budget_total >= 0", name=op.f("ck_events_budget_total_nonnegative")),
        sa.CheckConstraint("end_date >= start_date", name=op.f("ck_events_dates_ordered")),
        sa.CheckConstraint(
            "expected_attendees > 0", name=op.f("ck_events_expected_attendees_positive")
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_events_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    op.create_index(op.f("ix_events_tenant_id"), "events", ["tenant_id"], unique=False)
    op.create_index("ix_events_tenant_id_status", "events", ["tenant_id", "status"], unique=False)
    op.create_table(
        "knowledge_sources",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column(
            "source_type",
            sa.Enum(
                "text",
                "markdown",
                "file",
                "url",
                name="source_type",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("uri", sa.Text(), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "ready",
                "failed",
                name="source_status",
                native_enum=False,
                create_constraint=True,
            ),
            server_default="pending",
            nullable=False,
        ),
        sa.Column("chunk_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("chunk_size", sa.Integer(), nullable=True),
        sa.Column("chunk_overlap", sa.Integer(), nullable=True),
        sa.Column("embedding_model", sa.String(length=200), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column(
            "metadata",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_knowledge_sources_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_knowledge_sources")),
        sa.UniqueConstraint(
            "tenant_id", "content_hash", name=op.f("uq_knowledge_sources_tenant_id_content_hash")
        ),
    )
    op.create_index(
        op.f("ix_knowledge_sources_tenant_id"), "knowledge_sources", ["tenant_id"], unique=False
    )
    op.create_table(
        "projects",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "git_repository_info",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_projects_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_projects")),
    )
    op.create_index(op.f("ix_projects_name"), "projects", ["name"], unique=False)
    op.create_index(op.f("ix_projects_tenant_id"), "projects", ["tenant_id"], unique=False)
    op.create_table(
        "system_settings",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=True),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("value", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_system_settings_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_system_settings")),
        sa.UniqueConstraint(
            "tenant_id",
            "key",
            name=op.f("uq_system_settings_tenant_id_key"),
            postgresql_nulls_not_distinct=True,
        ),
    )
    op.create_index(
        op.f("ix_system_settings_tenant_id"), "system_settings", ["tenant_id"], unique=False
    )
    op.create_table(
        "tenant_memberships",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "owner",
                "admin",
                "approver",
                "member",
                name="membership_role",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_tenant_memberships_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_tenant_memberships_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tenant_memberships")),
        sa.UniqueConstraint(
            "tenant_id", "user_id", name=op.f("uq_tenant_memberships_tenant_id_user_id")
        ),
    )
    op.create_index(
        op.f("ix_tenant_memberships_tenant_id"), "tenant_memberships", ["tenant_id"], unique=False
    )
    op.create_index(
        op.f("ix_tenant_memberships_user_id"), "tenant_memberships", ["user_id"], unique=False
    )
    op.create_table(
        "user_preferences",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("preference_type", sa.Text(), nullable=False),
        sa.Column("preference_value", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "confidence_level",
            sa.Numeric(precision=3, scale=2),
            server_default=sa.text("0.5"),
            nullable=False,
        ),
        sa.Column(
            "source",
            sa.Enum(
                "explicit",
                "inferred",
                "behavioral",
                name="source",
                native_enum=False,
                create_constraint=True,
            ),
            server_default=sa.text("'explicit'"),
            nullable=False,
        ),
        sa.Column(
            "last_updated",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_user_preferences_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_user_preferences_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_preferences")),
    )
    op.create_index(
        op.f("ix_user_preferences_tenant_id"), "user_preferences", ["tenant_id"], unique=False
    )
    op.create_index(
        op.f("ix_user_preferences_user_id"), "user_preferences", ["user_id"], unique=False
    )
    op.create_table(
        "ai_agent_performance",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=True),
        sa.Column("agent_id", sa.UUID(), nullable=False),
        sa.Column("metric_name", sa.Text(), nullable=False),
        sa.Column("metric_value", sa.Numeric(precision=10, scale=4), nullable=False),
        sa.Column("measurement_date", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "context",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["ai_agents.id"],
            name=op.f("fk_ai_agent_performance_agent_id_ai_agents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_ai_agent_performance_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ai_agent_performance")),
    )
    op.create_index(
        "idx_ai_agent_performance_agent_date",
        "ai_agent_performance",
        ["agent_id", "measurement_date"],
        unique=False,
    )
    op.create_index(
        "idx_ai_agent_performance_metric",
        "ai_agent_performance",
        ["metric_name", "measurement_date"],
        unique=False,
    )
    op.create_index(
        op.f("ix_ai_agent_performance_tenant_id"),
        "ai_agent_performance",
        ["tenant_id"],
        unique=False,
    )
    op.create_table(
        "ai_communications",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column(
            "communication_type",
            sa.Enum(
                "email",
                "sms",
                "push_notification",
                "in_app_message",
                name="communication_type",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("recipient_id", sa.UUID(), nullable=False),
        sa.Column(
            "recipient_type",
            sa.Enum(
                "user",
                "attendee",
                "sponsor",
                name="recipient_type",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column(
            "personalization_data",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("send_scheduled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "delivery_status",
            sa.Enum(
                "pending",
                "sent",
                "delivered",
                "opened",
                "clicked",
                "failed",
                name="delivery_status",
                native_enum=False,
                create_constraint=True,
            ),
            server_default=sa.text("'pending'"),
            nullable=False,
        ),
        sa.Column(
            "engagement_metrics",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("generated_by_agent_id", sa.UUID(), nullable=True),
        sa.Column("automation_rule_id", sa.UUID(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["automation_rule_id"],
            ["automation_rules.id"],
            name=op.f("fk_ai_communications_automation_rule_id_automation_rules"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["generated_by_agent_id"],
            ["ai_agents.id"],
            name=op.f("fk_ai_communications_generated_by_agent_id_ai_agents"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_ai_communications_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ai_communications")),
    )
    op.create_index(
        "idx_ai_communications_recipient",
        "ai_communications",
        ["recipient_id", "recipient_type"],
        unique=False,
    )
    op.create_index(
        "idx_ai_communications_scheduled",
        "ai_communications",
        ["send_scheduled_at"],
        unique=False,
        postgresql_where=sa.text("send_scheduled_at IS NOT NULL"),
    )
    op.create_index(
        "idx_ai_communications_status", "ai_communications", ["delivery_status"], unique=False
    )
    op.create_index(
        op.f("ix_ai_communications_automation_rule_id"),
        "ai_communications",
        ["automation_rule_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_ai_communications_generated_by_agent_id"),
        "ai_communications",
        ["generated_by_agent_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_ai_communications_tenant_id"), "ai_communications", ["tenant_id"], unique=False
    )
    op.create_table(
        "ai_generated_content",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column(
            "content_type",
            sa.Enum(
                "event_description",
                "session_title",
                "speaker_bio",
                "email_template",
                "social_post",
                "proposal",
                "report",
                "presentation",
                name="content_type",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("source_event_id", sa.UUID(), nullable=True),
        sa.Column("source_user_id", sa.UUID(), nullable=True),
        sa.Column("template_id", sa.UUID(), nullable=True),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column(
            "metadata",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("quality_score", sa.Numeric(precision=3, scale=2), nullable=True),
        sa.Column("is_approved", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("approved_by", sa.UUID(), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("generated_by_agent_id", sa.UUID(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["approved_by"],
            ["users.id"],
            name=op.f("fk_ai_generated_content_approved_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["generated_by_agent_id"],
            ["ai_agents.id"],
            name=op.f("fk_ai_generated_content_generated_by_agent_id_ai_agents"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["source_event_id"],
            ["events.id"],
            name=op.f("fk_ai_generated_content_source_event_id_events"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["source_user_id"],
            ["users.id"],
            name=op.f("fk_ai_generated_content_source_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["content_templates.id"],
            name=op.f("fk_ai_generated_content_template_id_content_templates"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_ai_generated_content_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ai_generated_content")),
    )
    op.create_index(
        op.f("ix_ai_generated_content_approved_by"),
        "ai_generated_content",
        ["approved_by"],
        unique=False,
    )
    op.create_index(
        op.f("ix_ai_generated_content_generated_by_agent_id"),
        "ai_generated_content",
        ["generated_by_agent_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_ai_generated_content_source_event_id"),
        "ai_generated_content",
        ["source_event_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_ai_generated_content_source_user_id"),
        "ai_generated_content",
        ["source_user_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_ai_generated_content_template_id"),
        "ai_generated_content",
        ["template_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_ai_generated_content_tenant_id"),
        "ai_generated_content",
        ["tenant_id"],
        unique=False,
    )
    op.create_table(
        "ai_insights",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("event_id", sa.UUID(), nullable=False),
        sa.Column(
            "insight_type",
            sa.Enum(
                "attendee_behavior",
                "sponsor_performance",
                "content_engagement",
                "networking_success",
                "revenue_optimization",
                "operational_efficiency",
                name="insight_type",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("insight_title", sa.Text(), nullable=False),
        sa.Column("insight_description", sa.Text(), nullable=False),
        sa.Column("insight_data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("confidence_score", sa.Numeric(precision=3, scale=2), nullable=False),
        sa.Column("impact_score", sa.Numeric(precision=3, scale=2), nullable=False),
        sa.Column(
            "actionable_items",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("generated_by_agent_id", sa.UUID(), nullable=True),
        sa.Column("is_implemented", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_ai_insights_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["generated_by_agent_id"],
            ["ai_agents.id"],
            name=op.f("fk_ai_insights_generated_by_agent_id_ai_agents"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_ai_insights_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ai_insights")),
    )
    op.create_index(
        "idx_ai_insights_confidence_impact",
        "ai_insights",
        ["confidence_score", "impact_score"],
        unique=False,
    )
    op.create_index(
        "idx_ai_insights_created",
        "ai_insights",
        [sa.literal_column("created_at DESC")],
        unique=False,
    )
    op.create_index(
        "idx_ai_insights_event_type", "ai_insights", ["event_id", "insight_type"], unique=False
    )
    op.create_index(
        op.f("ix_ai_insights_generated_by_agent_id"),
        "ai_insights",
        ["generated_by_agent_id"],
        unique=False,
    )
    op.create_index(op.f("ix_ai_insights_tenant_id"), "ai_insights", ["tenant_id"], unique=False)
    op.create_table(
        "ai_model_versions",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("agent_id", sa.UUID(), nullable=False),
        sa.Column("version_number", sa.Text(), nullable=False),
        sa.Column("model_path", sa.Text(), nullable=False),
        sa.Column("training_data_size", sa.Integer(), nullable=False),
        sa.Column(
            "performance_metrics",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "hyperparameters",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("is_active", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("deployed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["ai_agents.id"],
            name=op.f("fk_ai_model_versions_agent_id_ai_agents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_ai_model_versions_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ai_model_versions")),
    )
    op.create_index(
        op.f("ix_ai_model_versions_agent_id"), "ai_model_versions", ["agent_id"], unique=False
    )
    op.create_index(
        op.f("ix_ai_model_versions_tenant_id"), "ai_model_versions", ["tenant_id"], unique=False
    )
    op.create_table(
        "ai_performance_metrics",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=True),
        sa.Column("agent_id", sa.UUID(), nullable=True),
        sa.Column(
            "metric_category",
            sa.Enum(
                "accuracy",
                "precision",
                "recall",
                "latency",
                "throughput",
                "cost",
                name="metric_category",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("metric_name", sa.Text(), nullable=False),
        sa.Column("metric_value", sa.Numeric(precision=10, scale=4), nullable=False),
        sa.Column(
            "measurement_context",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("measurement_timestamp", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["ai_agents.id"],
            name=op.f("fk_ai_performance_metrics_agent_id_ai_agents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_ai_performance_metrics_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ai_performance_metrics")),
    )
    op.create_index(
        "idx_ai_performance_agent_category",
        "ai_performance_metrics",
        ["agent_id", "metric_category"],
        unique=False,
    )
    op.create_index(
        "idx_ai_performance_timestamp",
        "ai_performance_metrics",
        [sa.literal_column("measurement_timestamp DESC")],
        unique=False,
    )
    op.create_index(
        op.f("ix_ai_performance_metrics_tenant_id"),
        "ai_performance_metrics",
        ["tenant_id"],
        unique=False,
    )
    op.create_table(
        "ai_predictions",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("event_id", sa.UUID(), nullable=True),
        sa.Column(
            "prediction_type",
            sa.Enum(
                "attendance",
                "engagement",
                "revenue",
                "churn",
                "satisfaction",
                name="prediction_type",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("predicted_value", sa.Numeric(precision=10, scale=4), nullable=False),
        sa.Column("confidence_interval", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("prediction_horizon", sa.Integer(), nullable=False),
        sa.Column("model_version", sa.Text(), nullable=False),
        sa.Column("input_features", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "prediction_horizon > 0", name=op.f("ck_ai_predictions_prediction_horizon")
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_ai_predictions_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_ai_predictions_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ai_predictions")),
    )
    op.create_index(
        "idx_ai_predictions_event_type",
        "ai_predictions",
        ["event_id", "prediction_type"],
        unique=False,
    )
    op.create_index("idx_ai_predictions_expires", "ai_predictions", ["expires_at"], unique=False)
    op.create_index(
        "idx_ai_predictions_horizon", "ai_predictions", ["prediction_horizon"], unique=False
    )
    op.create_index(
        op.f("ix_ai_predictions_tenant_id"), "ai_predictions", ["tenant_id"], unique=False
    )
    op.create_table(
        "ai_recommendations",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("event_id", sa.UUID(), nullable=False),
        sa.Column(
            "recommendation_type",
            sa.Enum(
                "session",
                "networking",
                "sponsor",
                "content",
                "activity",
                name="recommendation_type",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("recommended_item_id", sa.UUID(), nullable=False),
        sa.Column("recommended_item_type", sa.Text(), nullable=False),
        sa.Column("confidence_score", sa.Numeric(precision=3, scale=2), nullable=False),
        sa.Column(
            "reasoning",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("is_accepted", sa.Boolean(), nullable=True),
        sa.Column("feedback_score", sa.Integer(), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "confidence_score >= 0.0 AND confidence_score <= 1.0",
            name=op.f("ck_ai_recommendations_confidence_score"),
        ),
        sa.CheckConstraint(
            "feedback_score IS NULL OR (feedback_score >= 1 AND feedback_score <= 5)",
            name=op.f("ck_ai_recommendations_feedback_score"),
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_ai_recommendations_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_ai_recommendations_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_ai_recommendations_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ai_recommendations")),
    )
    op.create_index(
        "idx_ai_recommendations_expires",
        "ai_recommendations",
        ["expires_at"],
        unique=False,
        postgresql_where=sa.text("expires_at IS NOT NULL"),
    )
    op.create_index(
        "idx_ai_recommendations_type_confidence",
        "ai_recommendations",
        ["recommendation_type", "confidence_score"],
        unique=False,
    )
    op.create_index(
        "idx_ai_recommendations_user_event",
        "ai_recommendations",
        ["user_id", "event_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_ai_recommendations_event_id"), "ai_recommendations", ["event_id"], unique=False
    )
    op.create_index(
        op.f("ix_ai_recommendations_tenant_id"), "ai_recommendations", ["tenant_id"], unique=False
    )
    op.create_table(
        "ai_training_data",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("agent_id", sa.UUID(), nullable=False),
        sa.Column(
            "data_type",
            sa.Enum(
                "content",
                "behavior",
                "feedback",
                "performance",
                "interaction",
                name="data_type",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("source_event_id", sa.UUID(), nullable=True),
        sa.Column("source_user_id", sa.UUID(), nullable=True),
        sa.Column("raw_data", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("processed_data", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("quality_score", sa.Numeric(precision=3, scale=2), nullable=True),
        sa.Column("is_verified", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "quality_score >= 0.0 AND quality_score <= 1.0",
            name=op.f("ck_ai_training_data_quality_score"),
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["ai_agents.id"],
            name=op.f("fk_ai_training_data_agent_id_ai_agents"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["source_event_id"],
            ["events.id"],
            name=op.f("fk_ai_training_data_source_event_id_events"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["source_user_id"],
            ["users.id"],
            name=op.f("fk_ai_training_data_source_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_ai_training_data_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ai_training_data")),
    )
    op.create_index(
        op.f("ix_ai_training_data_agent_id"), "ai_training_data", ["agent_id"], unique=False
    )
    op.create_index(
        op.f("ix_ai_training_data_source_event_id"),
        "ai_training_data",
        ["source_event_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_ai_training_data_source_user_id"),
        "ai_training_data",
        ["source_user_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_ai_training_data_tenant_id"), "ai_training_data", ["tenant_id"], unique=False
    )
    op.create_table(
        "ai_workflow_versions",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=True),
        sa.Column("workflow_id", sa.UUID(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column(
            "steps",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "configuration",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_ai_workflow_versions_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workflow_id"],
            ["ai_workflows.id"],
            name=op.f("fk_ai_workflow_versions_workflow_id_ai_workflows"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ai_workflow_versions")),
        sa.UniqueConstraint(
            "workflow_id", "version", name=op.f("uq_ai_workflow_versions_workflow_id_version")
        ),
    )
    op.create_index(
        op.f("ix_ai_workflow_versions_tenant_id"),
        "ai_workflow_versions",
        ["tenant_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_ai_workflow_versions_workflow_id"),
        "ai_workflow_versions",
        ["workflow_id"],
        unique=False,
    )
    op.create_table(
        "attendees",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("event_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("company", sa.String(length=255), nullable=True),
        sa.Column(
            "attendee_type",
            sa.Enum(
                "general",
                "vip",
                "speaker",
                "sponsor",
                "staff",
                "press",
                name="attendee_type",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "registered",
                "checked_in",
                "cancelled",
                name="attendee_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column(
            "profile",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_attendees_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_attendees_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_attendees_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attendees")),
        sa.UniqueConstraint("event_id", "email", name=op.f("uq_attendees_event_id_email")),
    )
    op.create_index(op.f("ix_attendees_event_id"), "attendees", ["event_id"], unique=False)
    op.create_index(op.f("ix_attendees_tenant_id"), "attendees", ["tenant_id"], unique=False)
    op.create_index(op.f("ix_attendees_user_id"), "attendees", ["user_id"], unique=False)
    op.create_table(
        "budgets",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("event_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column(
            "total_amount",
            sa.Numeric(precision=12, scale=2),
            server_default=sa.text("0"),
            nullable=False,
        ),
        sa.Column("currency", sa.String(length=3), server_default=sa.text("'USD'"), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "draft",
                "proposed",
                "approved",
                "rejected",
                name="budget_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("prepared_by_agent", sa.String(length=100), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("total_amount >= 0", name=op.f("ck_budgets_total_amount_nonnegative")),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_budgets_event_id_events"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_budgets_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_budgets")),
    )
    op.create_index(op.f("ix_budgets_event_id"), "budgets", ["event_id"], unique=False)
    op.create_index(op.f("ix_budgets_tenant_id"), "budgets", ["tenant_id"], unique=False)
    op.create_table(
        "chunks",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("source_id", sa.UUID(), nullable=False),
        sa.Column("chunk_index", sa.Integer(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("token_count", sa.Integer(), nullable=True),
        sa.Column("embedding", Vector(embedding_dimension()), nullable=False),
        sa.Column(
            "metadata",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("chunk_index >= 0", name=op.f("ck_chunks_chunk_index_nonnegative")),
        sa.ForeignKeyConstraint(
            ["source_id"],
            ["knowledge_sources.id"],
            name=op.f("fk_chunks_source_id_knowledge_sources"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_chunks_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chunks")),
        sa.UniqueConstraint(
            "source_id", "chunk_index", name=op.f("uq_chunks_source_id_chunk_index")
        ),
    )
    op.create_index(
        "ix_chunks_embedding_hnsw",
        "chunks",
        ["embedding"],
        unique=False,
        postgresql_using="hnsw",
        postgresql_ops={"embedding": "vector_cosine_ops"},
    )
    op.create_index(op.f("ix_chunks_tenant_id"), "chunks", ["tenant_id"], unique=False)
    op.create_table(
        "interviews",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("project_id", sa.UUID(), nullable=False),
        sa.Column(
            "conversation_data",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("ai_model_used", sa.String(length=100), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "active",
                "completed",
                "cancelled",
                name="status",
                native_enum=False,
                create_constraint=True,
            ),
            server_default=sa.text("'active'"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_interviews_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_interviews_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_interviews")),
    )
    op.create_index(op.f("ix_interviews_project_id"), "interviews", ["project_id"], unique=False)
    op.create_index(op.f("ix_interviews_status"), "interviews", ["status"], unique=False)
    op.create_index(op.f("ix_interviews_tenant_id"), "interviews", ["tenant_id"], unique=False)
    op.create_table(
        "speakers",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("event_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=True),
        sa.Column("bio", sa.Text(), nullable=True),
        sa.Column("topic", sa.String(length=255), nullable=True),
        sa.Column("company", sa.String(length=255), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "proposed",
                "invited",
                "confirmed",
                "declined",
                "cancelled",
                name="speaker_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("fee", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column(
            "details",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("proposed_by_agent", sa.String(length=100), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("fee >= 0", name=op.f("ck_speakers_fee_nonnegative")),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_speakers_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_speakers_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_speakers")),
    )
    op.create_index(op.f("ix_speakers_event_id"), "speakers", ["event_id"], unique=False)
    op.create_index(op.f("ix_speakers_tenant_id"), "speakers", ["tenant_id"], unique=False)
    op.create_table(
        "sponsors",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("event_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column(
            "tier",
            sa.Enum(
                "platinum",
                "gold",
                "silver",
                "bronze",
                "partner",
                name="sponsor_tier",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=True,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "prospect",
                "contacted",
                "negotiating",
                "confirmed",
                "declined",
                name="sponsor_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("amount", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("contact_email", sa.String(length=320), nullable=True),
        sa.Column(
            "details",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("proposed_by_agent", sa.String(length=100), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_sponsors_amount_nonnegative")),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_sponsors_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_sponsors_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sponsors")),
    )
    op.create_index(op.f("ix_sponsors_event_id"), "sponsors", ["event_id"], unique=False)
    op.create_index(op.f("ix_sponsors_tenant_id"), "sponsors", ["tenant_id"], unique=False)
    op.create_table(
        "tickets",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("event_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column(
            "ticket_type",
            sa.Enum(
                "general",
                "vip",
                "early_bird",
                "student",
                "speaker",
                "sponsor",
                "virtual",
                name="ticket_type",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("price", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), server_default=sa.text("'USD'"), nullable=False),
        sa.Column("quantity_total", sa.Integer(), nullable=True),
        sa.Column("quantity_sold", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("sales_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sales_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("price >= 0", name=op.f("ck_tickets_price_nonnegative")),
        sa.CheckConstraint("quantity_sold >= 0", name=op.f("ck_tickets_quantity_sold_nonnegative")),
        sa.CheckConstraint(
            "quantity_total >= 0", name=op.f("ck_tickets_quantity_total_nonnegative")
        ),
        sa.CheckConstraint(
            "quantity_total IS NULL OR quantity_sold <= quantity_total",
            name=op.f("ck_tickets_not_oversold"),
        ),
        sa.CheckConstraint("sales_end > sales_start", name=op.f("ck_tickets_sales_window_ordered")),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_tickets_event_id_events"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_tickets_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tickets")),
    )
    op.create_index(op.f("ix_tickets_event_id"), "tickets", ["event_id"], unique=False)
    op.create_index(op.f("ix_tickets_tenant_id"), "tickets", ["tenant_id"], unique=False)
    op.create_table(
        "tracks",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("event_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("color", sa.String(length=32), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_tracks_event_id_events"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_tracks_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tracks")),
    )
    op.create_index(op.f("ix_tracks_event_id"), "tracks", ["event_id"], unique=False)
    op.create_index(op.f("ix_tracks_tenant_id"), "tracks", ["tenant_id"], unique=False)
    op.create_table(
        "venues",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("event_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("city", sa.String(length=255), nullable=True),
        sa.Column("address", sa.Text(), nullable=True),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column("estimated_cost", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "proposed",
                "shortlisted",
                "booked",
                "rejected",
                name="venue_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column(
            "details",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("proposed_by_agent", sa.String(length=100), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("capacity > 0", name=op.f("ck_venues_capacity_positive")),
        sa.CheckConstraint(
            "estimated_cost >= 0", name=op.f("ck_venues_estimated_cost_nonnegative")
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_venues_event_id_events"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_venues_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_venues")),
    )
    op.create_index(op.f("ix_venues_event_id"), "venues", ["event_id"], unique=False)
    op.create_index(op.f("ix_venues_tenant_id"), "venues", ["tenant_id"], unique=False)
    op.create_table(
        "ai_workflow_executions",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("workflow_id", sa.UUID(), nullable=False),
        sa.Column("workflow_version_id", sa.UUID(), nullable=False),
        sa.Column("workflow_version", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.UUID(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "running",
                "awaiting_approval",
                "completed",
                "failed",
                "cancelled",
                name="execution_status",
                native_enum=False,
                create_constraint=True,
            ),
            server_default="pending",
            nullable=False,
        ),
        sa.Column(
            "started_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "input_data",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "output_data",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "error_log",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "performance_metrics",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("current_step", sa.String(length=200), nullable=True),
        sa.Column(
            "step_states",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("lease_owner", sa.String(length=255), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_ai_workflow_executions_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_ai_workflow_executions_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workflow_id"],
            ["ai_workflows.id"],
            name=op.f("fk_ai_workflow_executions_workflow_id_ai_workflows"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workflow_version_id"],
            ["ai_workflow_versions.id"],
            name=op.f("fk_ai_workflow_executions_workflow_version_id_ai_workflow_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ai_workflow_executions")),
        sa.UniqueConstraint(
            "tenant_id",
            "idempotency_key",
            name=op.f("uq_ai_workflow_executions_tenant_id_idempotency_key"),
        ),
    )
    op.create_index(
        op.f("ix_ai_workflow_executions_event_id"),
        "ai_workflow_executions",
        ["event_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_ai_workflow_executions_status"), "ai_workflow_executions", ["status"], unique=False
    )
    op.create_index(
        "ix_ai_workflow_executions_status_updated_at",
        "ai_workflow_executions",
        ["status", "updated_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_ai_workflow_executions_tenant_id"),
        "ai_workflow_executions",
        ["tenant_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_ai_workflow_executions_workflow_id"),
        "ai_workflow_executions",
        ["workflow_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_ai_workflow_executions_workflow_version_id"),
        "ai_workflow_executions",
        ["workflow_version_id"],
        unique=False,
    )
    op.create_table(
        "budget_line_items",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("budget_id", sa.UUID(), nullable=False),
        sa.Column(
            "category",
            sa.Enum(
                "venue",
                "catering",
                "speakers",
                "marketing",
                "av_production",
                "staffing",
                "travel",
                "sponsorship_revenue",
                "ticket_revenue",
                "contingency",
                "other",
                name="budget_category",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("is_revenue", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("vendor", sa.String(length=255), nullable=True),
        sa.Column("quantity", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_budget_line_items_amount_nonnegative")),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_budget_line_items_quantity_positive")),
        sa.ForeignKeyConstraint(
            ["budget_id"],
            ["budgets.id"],
            name=op.f("fk_budget_line_items_budget_id_budgets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_budget_line_items_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_budget_line_items")),
    )
    op.create_index(
        op.f("ix_budget_line_items_budget_id"), "budget_line_items", ["budget_id"], unique=False
    )
    op.create_index(
        op.f("ix_budget_line_items_tenant_id"), "budget_line_items", ["tenant_id"], unique=False
    )
    op.create_table(
        "contracts",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("event_id", sa.UUID(), nullable=False),
        sa.Column("venue_id", sa.UUID(), nullable=True),
        sa.Column("sponsor_id", sa.UUID(), nullable=True),
        sa.Column("speaker_id", sa.UUID(), nullable=True),
        sa.Column(
            "counterparty_type",
            sa.Enum(
                "venue",
                "sponsor",
                "speaker",
                "vendor",
                name="counterparty_type",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("counterparty_name", sa.String(length=255), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "draft",
                "sent",
                "signed",
                "cancelled",
                "expired",
                name="contract_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("amount", sa.Numeric(precision=12, scale=2), nullable=True),
        sa.Column("currency", sa.String(length=3), server_default=sa.text("'USD'"), nullable=False),
        sa.Column(
            "terms",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("document_url", sa.Text(), nullable=True),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_contracts_amount_nonnegative")),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_contracts_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["speaker_id"],
            ["speakers.id"],
            name=op.f("fk_contracts_speaker_id_speakers"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["sponsor_id"],
            ["sponsors.id"],
            name=op.f("fk_contracts_sponsor_id_sponsors"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_contracts_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["venue_id"],
            ["venues.id"],
            name=op.f("fk_contracts_venue_id_venues"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contracts")),
    )
    op.create_index(op.f("ix_contracts_event_id"), "contracts", ["event_id"], unique=False)
    op.create_index(op.f("ix_contracts_speaker_id"), "contracts", ["speaker_id"], unique=False)
    op.create_index(op.f("ix_contracts_sponsor_id"), "contracts", ["sponsor_id"], unique=False)
    op.create_index(op.f("ix_contracts_tenant_id"), "contracts", ["tenant_id"], unique=False)
    op.create_index(op.f("ix_contracts_venue_id"), "contracts", ["venue_id"], unique=False)
    op.create_table(
        "orders",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("event_id", sa.UUID(), nullable=False),
        sa.Column("attendee_id", sa.UUID(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "paid",
                "refunded",
                "cancelled",
                name="order_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column(
            "total_amount",
            sa.Numeric(precision=12, scale=2),
            server_default=sa.text("0"),
            nullable=False,
        ),
        sa.Column("currency", sa.String(length=3), server_default=sa.text("'USD'"), nullable=False),
        sa.Column(
            "placed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("total_amount >= 0", name=op.f("ck_orders_total_amount_nonnegative")),
        sa.ForeignKeyConstraint(
            ["attendee_id"],
            ["attendees.id"],
            name=op.f("fk_orders_attendee_id_attendees"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_orders_event_id_events"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_orders_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
    )
    op.create_index(op.f("ix_orders_attendee_id"), "orders", ["attendee_id"], unique=False)
    op.create_index(op.f("ix_orders_event_id"), "orders", ["event_id"], unique=False)
    op.create_index(op.f("ix_orders_tenant_id"), "orders", ["tenant_id"], unique=False)
    op.create_table(
        "prompts",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("project_id", sa.UUID(), nullable=False),
        sa.Column("created_from_interview_id", sa.UUID(), nullable=True),
        sa.Column("parent_id", sa.UUID(), nullable=True),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("type", sa.String(length=50), nullable=False),
        sa.Column("is_reusable", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column(
            "components",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["created_from_interview_id"],
            ["interviews.id"],
            name=op.f("fk_prompts_created_from_interview_id_interviews"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["prompts.id"],
            name=op.f("fk_prompts_parent_id_prompts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_prompts_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_prompts_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_prompts")),
    )
    op.create_index(
        op.f("ix_prompts_created_from_interview_id"),
        "prompts",
        ["created_from_interview_id"],
        unique=False,
    )
    op.create_index(op.f("ix_prompts_parent_id"), "prompts", ["parent_id"], unique=False)
    op.create_index(op.f("ix_prompts_project_id"), "prompts", ["project_id"], unique=False)
    op.create_index(op.f("ix_prompts_tenant_id"), "prompts", ["tenant_id"], unique=False)
    op.create_index(op.f("ix_prompts_type"), "prompts", ["type"], unique=False)
    op.create_table(
        "rooms",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("venue_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column(
            "features",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("capacity > 0", name=op.f("ck_rooms_capacity_positive")),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_rooms_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["venue_id"], ["venues.id"], name=op.f("fk_rooms_venue_id_venues"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rooms")),
    )
    op.create_index(op.f("ix_rooms_tenant_id"), "rooms", ["tenant_id"], unique=False)
    op.create_index(op.f("ix_rooms_venue_id"), "rooms", ["venue_id"], unique=False)
    op.create_table(
        "sponsorship_packages",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("event_id", sa.UUID(), nullable=False),
        sa.Column("sponsor_id", sa.UUID(), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column(
            "tier",
            sa.Enum(
                "platinum",
                "gold",
                "silver",
                "bronze",
                "partner",
                name="package_tier",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("price", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column(
            "benefits",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("max_sponsors", sa.Integer(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "max_sponsors > 0", name=op.f("ck_sponsorship_packages_max_sponsors_positive")
        ),
        sa.CheckConstraint("price >= 0", name=op.f("ck_sponsorship_packages_price_nonnegative")),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_sponsorship_packages_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["sponsor_id"],
            ["sponsors.id"],
            name=op.f("fk_sponsorship_packages_sponsor_id_sponsors"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_sponsorship_packages_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sponsorship_packages")),
    )
    op.create_index(
        op.f("ix_sponsorship_packages_event_id"), "sponsorship_packages", ["event_id"], unique=False
    )
    op.create_index(
        op.f("ix_sponsorship_packages_sponsor_id"),
        "sponsorship_packages",
        ["sponsor_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_sponsorship_packages_tenant_id"),
        "sponsorship_packages",
        ["tenant_id"],
        unique=False,
    )
    op.create_table(
        "conference_sessions",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("event_id", sa.UUID(), nullable=False),
        sa.Column("track_id", sa.UUID(), nullable=True),
        sa.Column("room_id", sa.UUID(), nullable=True),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("abstract", sa.Text(), nullable=True),
        sa.Column(
            "session_type",
            sa.Enum(
                "keynote",
                "talk",
                "workshop",
                "panel",
                "break",
                "networking",
                name="session_type",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("capacity > 0", name=op.f("ck_conference_sessions_capacity_positive")),
        sa.CheckConstraint(
            "ends_at > starts_at", name=op.f("ck_conference_sessions_ends_after_starts")
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_conference_sessions_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["room_id"],
            ["rooms.id"],
            name=op.f("fk_conference_sessions_room_id_rooms"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_conference_sessions_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["track_id"],
            ["tracks.id"],
            name=op.f("fk_conference_sessions_track_id_tracks"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conference_sessions")),
    )
    op.create_index(
        op.f("ix_conference_sessions_event_id"), "conference_sessions", ["event_id"], unique=False
    )
    op.create_index(
        "ix_conference_sessions_event_id_starts_at",
        "conference_sessions",
        ["event_id", "starts_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_conference_sessions_room_id"), "conference_sessions", ["room_id"], unique=False
    )
    op.create_index(
        op.f("ix_conference_sessions_tenant_id"), "conference_sessions", ["tenant_id"], unique=False
    )
    op.create_index(
        op.f("ix_conference_sessions_track_id"), "conference_sessions", ["track_id"], unique=False
    )
    op.create_table(
        "order_items",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("order_id", sa.UUID(), nullable=False),
        sa.Column("ticket_id", sa.UUID(), nullable=False),
        sa.Column("quantity", sa.Integer(), server_default=sa.text("1"), nullable=False),
        sa.Column("unit_price", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_order_items_quantity_positive")),
        sa.CheckConstraint("unit_price >= 0", name=op.f("ck_order_items_unit_price_nonnegative")),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_order_items_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_order_items_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_order_items_ticket_id_tickets"),
            ondelete="NO ACTION",
            initially="DEFERRED",
            deferrable=True,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_items")),
    )
    op.create_index(op.f("ix_order_items_order_id"), "order_items", ["order_id"], unique=False)
    op.create_index(op.f("ix_order_items_tenant_id"), "order_items", ["tenant_id"], unique=False)
    op.create_index(op.f("ix_order_items_ticket_id"), "order_items", ["ticket_id"], unique=False)
    op.create_table(
        "payments",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("order_id", sa.UUID(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), server_default=sa.text("'USD'"), nullable=False),
        sa.Column("provider", sa.String(length=50), nullable=False),
        sa.Column("provider_reference", sa.String(length=255), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "succeeded",
                "failed",
                "refunded",
                name="payment_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "details",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_payments_amount_positive")),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_payments_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_payments_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
        sa.UniqueConstraint(
            "provider", "provider_reference", name=op.f("uq_payments_provider_provider_reference")
        ),
    )
    op.create_index(op.f("ix_payments_order_id"), "payments", ["order_id"], unique=False)
    op.create_index(op.f("ix_payments_tenant_id"), "payments", ["tenant_id"], unique=False)
    op.create_table(
        "tasks",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=True),
        sa.Column("input_prompt", sa.Text(), nullable=True),
        sa.Column(
            "input_payload",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "PENDING",
                "RUNNING",
                "AWAITING_APPROVAL",
                "SUCCEEDED",
                "FAILED",
                "CANCELLED",
                name="task_status",
                native_enum=False,
                create_constraint=True,
            ),
            server_default="PENDING",
            nullable=False,
        ),
        sa.Column("result_summary", sa.Text(), nullable=True),
        sa.Column("result", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("agent_id", sa.UUID(), nullable=True),
        sa.Column("agent_name", sa.String(length=200), nullable=True),
        sa.Column("workflow_execution_id", sa.UUID(), nullable=True),
        sa.Column("workflow_step", sa.String(length=200), nullable=True),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column("priority", sa.SmallInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("max_attempts", sa.Integer(), server_default=sa.text("5"), nullable=False),
        sa.Column("broker_message_id", sa.String(length=255), nullable=True),
        sa.Column("queue", sa.String(length=64), nullable=True),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_owner", sa.String(length=255), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "metadata",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_tasks_attempts_nonnegative")),
        sa.CheckConstraint("priority BETWEEN 0 AND 9", name=op.f("ck_tasks_priority_range")),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["ai_agents.id"],
            name=op.f("fk_tasks_agent_id_ai_agents"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_tasks_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workflow_execution_id"],
            ["ai_workflow_executions.id"],
            name=op.f("fk_tasks_workflow_execution_id_ai_workflow_executions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
        sa.UniqueConstraint(
            "tenant_id", "idempotency_key", name=op.f("uq_tasks_tenant_id_idempotency_key")
        ),
    )
    op.create_index(op.f("ix_tasks_agent_id"), "tasks", ["agent_id"], unique=False)
    op.create_index(
        op.f("ix_tasks_broker_message_id"), "tasks", ["broker_message_id"], unique=False
    )
    op.create_index(op.f("ix_tasks_status"), "tasks", ["status"], unique=False)
    op.create_index("ix_tasks_status_updated_at", "tasks", ["status", "updated_at"], unique=False)
    op.create_index(op.f("ix_tasks_tenant_id"), "tasks", ["tenant_id"], unique=False)
    op.create_index(
        "ix_tasks_tenant_id_created_at", "tasks", ["tenant_id", "created_at"], unique=False
    )
    op.create_index(
        op.f("ix_tasks_workflow_execution_id"), "tasks", ["workflow_execution_id"], unique=False
    )
    op.create_table(
        "agent_runs",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("task_id", sa.UUID(), nullable=False),
        sa.Column("agent_id", sa.UUID(), nullable=True),
        sa.Column("agent_name", sa.String(length=100), nullable=False),
        sa.Column("agent_version", sa.String(length=50), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "STARTED",
                "RUNNING",
                "WAITING_APPROVAL",
                "COMPLETED",
                "FAILED",
                "CANCELLED",
                name="agent_run_status",
                native_enum=False,
                create_constraint=True,
            ),
            server_default="STARTED",
            nullable=False,
        ),
        sa.Column("model", sa.String(length=200), nullable=True),
        sa.Column(
            "started_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("output_summary", sa.Text(), nullable=True),
        sa.Column("output", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "messages",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("step_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("llm_calls", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("prompt_tokens", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("completion_tokens", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "cost", sa.Numeric(precision=14, scale=6), server_default=sa.text("0"), nullable=False
        ),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "prompt_tokens >= 0 AND completion_tokens >= 0",
            name=op.f("ck_agent_runs_tokens_nonnegative"),
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["ai_agents.id"],
            name=op.f("fk_agent_runs_agent_id_ai_agents"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name=op.f("fk_agent_runs_task_id_tasks"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_agent_runs_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agent_runs")),
    )
    op.create_index(
        "idx_agent_run_task_started", "agent_runs", ["task_id", "started_at"], unique=False
    )
    op.create_index(op.f("ix_agent_runs_agent_id"), "agent_runs", ["agent_id"], unique=False)
    op.create_index(op.f("ix_agent_runs_agent_name"), "agent_runs", ["agent_name"], unique=False)
    op.create_index(op.f("ix_agent_runs_started_at"), "agent_runs", ["started_at"], unique=False)
    op.create_index(op.f("ix_agent_runs_status"), "agent_runs", ["status"], unique=False)
    op.create_index(op.f("ix_agent_runs_task_id"), "agent_runs", ["task_id"], unique=False)
    op.create_index(op.f("ix_agent_runs_tenant_id"), "agent_runs", ["tenant_id"], unique=False)
    op.create_table(
        "ai_error_logs",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=True),
        sa.Column("agent_id", sa.UUID(), nullable=True),
        sa.Column("workflow_id", sa.UUID(), nullable=True),
        sa.Column("task_id", sa.UUID(), nullable=True),
        sa.Column("error_type", sa.Text(), nullable=False),
        sa.Column("error_message", sa.Text(), nullable=False),
        sa.Column(
            "error_context",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("stack_trace", sa.Text(), nullable=True),
        sa.Column(
            "severity",
            sa.Enum(
                "low",
                "medium",
                "high",
                "critical",
                name="severity",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("is_resolved", sa.Boolean(), server_default=sa.text("false"), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["agent_id"],
            ["ai_agents.id"],
            name=op.f("fk_ai_error_logs_agent_id_ai_agents"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["tasks.id"],
            name=op.f("fk_ai_error_logs_task_id_tasks"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_ai_error_logs_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workflow_id"],
            ["ai_workflows.id"],
            name=op.f("fk_ai_error_logs_workflow_id_ai_workflows"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ai_error_logs")),
    )
    op.create_index(op.f("ix_ai_error_logs_agent_id"), "ai_error_logs", ["agent_id"], unique=False)
    op.create_index(op.f("ix_ai_error_logs_task_id"), "ai_error_logs", ["task_id"], unique=False)
    op.create_index(
        op.f("ix_ai_error_logs_tenant_id"), "ai_error_logs", ["tenant_id"], unique=False
    )
    op.create_index(
        op.f("ix_ai_error_logs_workflow_id"), "ai_error_logs", ["workflow_id"], unique=False
    )
    op.create_table(
        "board_tasks",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("prompt_id", sa.UUID(), nullable=True),
        sa.Column("project_id", sa.UUID(), nullable=False),
        sa.Column("orchestration_task_id", sa.UUID(), nullable=True),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "backlog",
                "todo",
                "in_progress",
                "review",
                "done",
                name="status",
                native_enum=False,
                create_constraint=True,
            ),
            server_default=sa.text("'backlog'"),
            nullable=False,
        ),
        sa.Column("column", sa.String(length=50), nullable=True),
        sa.Column("order", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["orchestration_task_id"],
            ["tasks.id"],
            name=op.f("fk_board_tasks_orchestration_task_id_tasks"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_board_tasks_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["prompt_id"],
            ["prompts.id"],
            name=op.f("fk_board_tasks_prompt_id_prompts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_board_tasks_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_board_tasks")),
    )
    op.create_index(
        op.f("ix_board_tasks_orchestration_task_id"),
        "board_tasks",
        ["orchestration_task_id"],
        unique=False,
    )
    op.create_index(op.f("ix_board_tasks_project_id"), "board_tasks", ["project_id"], unique=False)
    op.create_index(op.f("ix_board_tasks_prompt_id"), "board_tasks", ["prompt_id"], unique=False)
    op.create_index(op.f("ix_board_tasks_status"), "board_tasks", ["status"], unique=False)
    op.create_index(op.f("ix_board_tasks_tenant_id"), "board_tasks", ["tenant_id"], unique=False)
    op.create_table(
        "session_attendance",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("session_id", sa.UUID(), nullable=False),
        sa.Column("attendee_id", sa.UUID(), nullable=False),
        sa.Column(
            "registered_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("checked_in_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["attendee_id"],
            ["attendees.id"],
            name=op.f("fk_session_attendance_attendee_id_attendees"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["conference_sessions.id"],
            name=op.f("fk_session_attendance_session_id_conference_sessions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_session_attendance_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_attendance")),
        sa.UniqueConstraint(
            "session_id", "attendee_id", name=op.f("uq_session_attendance_session_id_attendee_id")
        ),
    )
    op.create_index(
        op.f("ix_session_attendance_attendee_id"),
        "session_attendance",
        ["attendee_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_session_attendance_session_id"), "session_attendance", ["session_id"], unique=False
    )
    op.create_index(
        op.f("ix_session_attendance_tenant_id"), "session_attendance", ["tenant_id"], unique=False
    )
    op.create_table(
        "session_speakers",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("session_id", sa.UUID(), nullable=False),
        sa.Column("speaker_id", sa.UUID(), nullable=False),
        sa.Column(
            "role", sa.String(length=50), server_default=sa.text("'speaker'"), nullable=False
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["conference_sessions.id"],
            name=op.f("fk_session_speakers_session_id_conference_sessions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["speaker_id"],
            ["speakers.id"],
            name=op.f("fk_session_speakers_speaker_id_speakers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_session_speakers_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_session_speakers")),
        sa.UniqueConstraint(
            "session_id", "speaker_id", name=op.f("uq_session_speakers_session_id_speaker_id")
        ),
    )
    op.create_index(
        op.f("ix_session_speakers_session_id"), "session_speakers", ["session_id"], unique=False
    )
    op.create_index(
        op.f("ix_session_speakers_speaker_id"), "session_speakers", ["speaker_id"], unique=False
    )
    op.create_index(
        op.f("ix_session_speakers_tenant_id"), "session_speakers", ["tenant_id"], unique=False
    )
    op.create_table(
        "action_logs",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column(
            "action_type",
            sa.Enum(
                "crm_create",
                "crm_read",
                "crm_update",
                "crm_delete",
                "crm_search",
                "helpdesk_create_ticket",
                "helpdesk_read_ticket",
                "helpdesk_update_ticket",
                "helpdesk_close_ticket",
                "helpdesk_add_comment",
                "calendar_create_event",
                "calendar_read_event",
                "calendar_update_event",
                "calendar_delete_event",
                "calendar_check_availability",
                "email_send",
                "email_draft",
                "email_read",
                "email_search",
                "email_reply",
                "knowledge_search",
                "knowledge_read",
                "knowledge_create",
                "knowledge_update",
                "knowledge_delete",
                "knowledge_sync",
                name="action_type",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=True,
        ),
        sa.Column("provider_name", sa.String(length=100), nullable=False),
        sa.Column("tool_name", sa.String(length=100), nullable=True),
        sa.Column(
            "request_payload",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("response_data", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "success",
                "failure",
                "timeout",
                "retry",
                name="action_status",
                native_enum=False,
                create_constraint=True,
            ),
            server_default="pending",
            nullable=False,
        ),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("execution_time_ms", sa.Integer(), nullable=True),
        sa.Column("task_id", sa.UUID(), nullable=True),
        sa.Column("agent_run_id", sa.UUID(), nullable=True),
        sa.Column("tool_call_id", sa.String(length=200), nullable=True),
        sa.Column("idempotency_key", sa.String(length=255), nullable=True),
        sa.Column(
            "metadata",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["agent_run_id"],
            ["agent_runs.id"],
            name=op.f("fk_action_logs_agent_run_id_agent_runs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name=op.f("fk_action_logs_task_id_tasks"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_action_logs_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_action_logs")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_action_logs_idempotency_key")),
    )
    op.create_index(
        op.f("ix_action_logs_action_type"), "action_logs", ["action_type"], unique=False
    )
    op.create_index(
        op.f("ix_action_logs_agent_run_id"), "action_logs", ["agent_run_id"], unique=False
    )
    op.create_index(
        op.f("ix_action_logs_provider_name"), "action_logs", ["provider_name"], unique=False
    )
    op.create_index(op.f("ix_action_logs_status"), "action_logs", ["status"], unique=False)
    op.create_index(op.f("ix_action_logs_task_id"), "action_logs", ["task_id"], unique=False)
    op.create_index(op.f("ix_action_logs_tenant_id"), "action_logs", ["tenant_id"], unique=False)
    op.create_index(
        "ix_action_logs_tenant_id_created_at",
        "action_logs",
        ["tenant_id", "created_at"],
        unique=False,
    )
    op.create_table(
        "approvals",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "workflow_step",
                "tool_call",
                name="approval_kind",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "approved",
                "rejected",
                "expired",
                "cancelled",
                name="approval_status",
                native_enum=False,
                create_constraint=True,
            ),
            server_default="pending",
            nullable=False,
        ),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "payload",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("task_id", sa.UUID(), nullable=True),
        sa.Column("workflow_execution_id", sa.UUID(), nullable=True),
        sa.Column("agent_run_id", sa.UUID(), nullable=True),
        sa.Column("step_key", sa.String(length=200), nullable=True),
        sa.Column("tool_call_id", sa.String(length=200), nullable=True),
        sa.Column("requested_by", sa.String(length=200), nullable=True),
        sa.Column("requested_by_user_id", sa.UUID(), nullable=True),
        sa.Column(
            "required_role",
            sa.Enum(
                "owner",
                "admin",
                "approver",
                "member",
                name="required_role",
                native_enum=False,
                create_constraint=True,
            ),
            server_default="approver",
            nullable=False,
        ),
        sa.Column(
            "policy",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by_user_id", sa.UUID(), nullable=True),
        sa.Column("decision_comment", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "(status = 'pending') = (decided_at IS NULL)",
            name=op.f("ck_approvals_decided_iff_not_pending"),
        ),
        sa.CheckConstraint(
            "num_nonnulls(task_id, workflow_execution_id, agent_run_id) > 0",
            name=op.f("ck_approvals_gates_something"),
        ),
        sa.ForeignKeyConstraint(
            ["agent_run_id"],
            ["agent_runs.id"],
            name=op.f("fk_approvals_agent_run_id_agent_runs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["decided_by_user_id"],
            ["users.id"],
            name=op.f("fk_approvals_decided_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["requested_by_user_id"],
            ["users.id"],
            name=op.f("fk_approvals_requested_by_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name=op.f("fk_approvals_task_id_tasks"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_approvals_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workflow_execution_id"],
            ["ai_workflow_executions.id"],
            name=op.f("fk_approvals_workflow_execution_id_ai_workflow_executions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approvals")),
        sa.UniqueConstraint(
            "agent_run_id", "tool_call_id", name=op.f("uq_approvals_agent_run_id_tool_call_id")
        ),
        sa.UniqueConstraint(
            "workflow_execution_id",
            "step_key",
            name=op.f("uq_approvals_workflow_execution_id_step_key"),
        ),
    )
    op.create_index(op.f("ix_approvals_agent_run_id"), "approvals", ["agent_run_id"], unique=False)
    op.create_index(
        op.f("ix_approvals_decided_by_user_id"), "approvals", ["decided_by_user_id"], unique=False
    )
    op.create_index(
        "ix_approvals_pending_expires_at",
        "approvals",
        ["expires_at"],
        unique=False,
        postgresql_where=sa.text("status = 'pending' AND expires_at IS NOT NULL"),
    )
    op.create_index(
        op.f("ix_approvals_requested_by_user_id"),
        "approvals",
        ["requested_by_user_id"],
        unique=False,
    )
    op.create_index(op.f("ix_approvals_task_id"), "approvals", ["task_id"], unique=False)
    op.create_index(op.f("ix_approvals_tenant_id"), "approvals", ["tenant_id"], unique=False)
    op.create_index(
        "ix_approvals_tenant_id_status_created_at",
        "approvals",
        ["tenant_id", "status", "created_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_approvals_workflow_execution_id"),
        "approvals",
        ["workflow_execution_id"],
        unique=False,
    )
    op.create_table(
        "chat_sessions",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("board_task_id", sa.UUID(), nullable=False),
        sa.Column(
            "messages",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
        sa.Column("ai_model_used", sa.String(length=100), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "active",
                "completed",
                "failed",
                name="status",
                native_enum=False,
                create_constraint=True,
            ),
            server_default=sa.text("'active'"),
            nullable=False,
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["board_task_id"],
            ["board_tasks.id"],
            name=op.f("fk_chat_sessions_board_task_id_board_tasks"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_chat_sessions_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_sessions")),
    )
    op.create_index(
        op.f("ix_chat_sessions_board_task_id"), "chat_sessions", ["board_task_id"], unique=False
    )
    op.create_index(op.f("ix_chat_sessions_status"), "chat_sessions", ["status"], unique=False)
    op.create_index(
        op.f("ix_chat_sessions_tenant_id"), "chat_sessions", ["tenant_id"], unique=False
    )
    op.create_table(
        "commits",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("board_task_id", sa.UUID(), nullable=False),
        sa.Column("project_id", sa.UUID(), nullable=False),
        sa.Column(
            "type",
            sa.Enum(
                "feat",
                "fix",
                "docs",
                "style",
                "refactor",
                "test",
                "chore",
                "perf",
                name="type",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column(
            "changes",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("created_by_ai_model", sa.String(length=100), nullable=True),
        sa.Column(
            "author", sa.String(length=100), server_default=sa.text("'AI System'"), nullable=False
        ),
        sa.Column(
            "timestamp", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["board_task_id"],
            ["board_tasks.id"],
            name=op.f("fk_commits_board_task_id_board_tasks"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_commits_project_id_projects"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_commits_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commits")),
    )
    op.create_index(op.f("ix_commits_board_task_id"), "commits", ["board_task_id"], unique=False)
    op.create_index(op.f("ix_commits_project_id"), "commits", ["project_id"], unique=False)
    op.create_index(op.f("ix_commits_tenant_id"), "commits", ["tenant_id"], unique=False)
    op.create_index(op.f("ix_commits_timestamp"), "commits", ["timestamp"], unique=False)
    op.create_index(op.f("ix_commits_type"), "commits", ["type"], unique=False)
    op.create_table(
        "event_logs",
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("task_id", sa.UUID(), nullable=True),
        sa.Column("agent_run_id", sa.UUID(), nullable=True),
        sa.Column("workflow_execution_id", sa.UUID(), nullable=True),
        sa.Column(
            "event_type",
            sa.Enum(
                "LOG",
                "MESSAGE",
                "ERROR",
                "RESULT",
                "AGENT_START",
                "AGENT_COMPLETE",
                "SYSTEM",
                "LLM_CALL",
                "TOOL_CALL",
                "TOOL_RESULT",
                "APPROVAL_REQUESTED",
                "APPROVAL_RESOLVED",
                "STATE_CHANGE",
                name="event_type",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("agent_role", sa.String(length=100), nullable=True),
        sa.Column("content", sa.Text(), nullable=True),
        sa.Column("data", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["agent_run_id"],
            ["agent_runs.id"],
            name=op.f("fk_event_logs_agent_run_id_agent_runs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["task_id"], ["tasks.id"], name=op.f("fk_event_logs_task_id_tasks"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_event_logs_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["workflow_execution_id"],
            ["ai_workflow_executions.id"],
            name=op.f("fk_event_logs_workflow_execution_id_ai_workflow_executions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_event_logs")),
    )
    op.create_index(
        "idx_event_log_task_created", "event_logs", ["task_id", "created_at"], unique=False
    )
    op.create_index(op.f("ix_event_logs_agent_role"), "event_logs", ["agent_role"], unique=False)
    op.create_index(
        op.f("ix_event_logs_agent_run_id"), "event_logs", ["agent_run_id"], unique=False
    )
    op.create_index(op.f("ix_event_logs_created_at"), "event_logs", ["created_at"], unique=False)
    op.create_index(op.f("ix_event_logs_event_type"), "event_logs", ["event_type"], unique=False)
    op.create_index(op.f("ix_event_logs_task_id"), "event_logs", ["task_id"], unique=False)
    op.create_index(op.f("ix_event_logs_tenant_id"), "event_logs", ["tenant_id"], unique=False)
    op.create_index(
        "ix_event_logs_workflow_execution_id_id",
        "event_logs",
        ["workflow_execution_id", "id"],
        unique=False,
    )
    op.create_table(
        "ai_workflow_step_runs",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("execution_id", sa.UUID(), nullable=False),
        sa.Column("step_key", sa.String(length=200), nullable=False),
        sa.Column("step_kind", sa.String(length=32), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "running",
                "awaiting_approval",
                "completed",
                "failed",
                "skipped",
                "cancelled",
                name="step_run_status",
                native_enum=False,
                create_constraint=True,
            ),
            server_default="pending",
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "input",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("output", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("task_id", sa.UUID(), nullable=True),
        sa.Column("approval_id", sa.UUID(), nullable=True),
        sa.Column("lease_owner", sa.String(length=255), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "attempts >= 0", name=op.f("ck_ai_workflow_step_runs_attempts_nonnegative")
        ),
        sa.ForeignKeyConstraint(
            ["approval_id"],
            ["approvals.id"],
            name=op.f("fk_ai_workflow_step_runs_approval_id_approvals"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["ai_workflow_executions.id"],
            name=op.f("fk_ai_workflow_step_runs_execution_id_ai_workflow_executions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["tasks.id"],
            name=op.f("fk_ai_workflow_step_runs_task_id_tasks"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_ai_workflow_step_runs_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ai_workflow_step_runs")),
        sa.UniqueConstraint(
            "execution_id", "step_key", name=op.f("uq_ai_workflow_step_runs_execution_id_step_key")
        ),
    )
    op.create_index(
        op.f("ix_ai_workflow_step_runs_approval_id"),
        "ai_workflow_step_runs",
        ["approval_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_ai_workflow_step_runs_task_id"), "ai_workflow_step_runs", ["task_id"], unique=False
    )
    op.create_index(
        op.f("ix_ai_workflow_step_runs_tenant_id"),
        "ai_workflow_step_runs",
        ["tenant_id"],
        unique=False,
    )
    _create_updated_at_triggers()


def downgrade() -> None:
    op.drop_index(op.f("ix_ai_workflow_step_runs_tenant_id"), table_name="ai_workflow_step_runs")
    op.drop_index(op.f("ix_ai_workflow_step_runs_task_id"), table_name="ai_workflow_step_runs")
    op.drop_index(op.f("ix_ai_workflow_step_runs_approval_id"), table_name="ai_workflow_step_runs")
    op.drop_table("ai_workflow_step_runs")
    op.drop_index("ix_event_logs_workflow_execution_id_id", table_name="event_logs")
    op.drop_index(op.f("ix_event_logs_tenant_id"), table_name="event_logs")
    op.drop_index(op.f("ix_event_logs_task_id"), table_name="event_logs")
    op.drop_index(op.f("ix_event_logs_event_type"), table_name="event_logs")
    op.drop_index(op.f("ix_event_logs_created_at"), table_name="event_logs")
    op.drop_index(op.f("ix_event_logs_agent_run_id"), table_name="event_logs")
    op.drop_index(op.f("ix_event_logs_agent_role"), table_name="event_logs")
    op.drop_index("idx_event_log_task_created", table_name="event_logs")
    op.drop_table("event_logs")
    op.drop_index(op.f("ix_commits_type"), table_name="commits")
    op.drop_index(op.f("ix_commits_timestamp"), table_name="commits")
    op.drop_index(op.f("ix_commits_tenant_id"), table_name="commits")
    op.drop_index(op.f("ix_commits_project_id"), table_name="commits")
    op.drop_index(op.f("ix_commits_board_task_id"), table_name="commits")
    op.drop_table("commits")
    op.drop_index(op.f("ix_chat_sessions_tenant_id"), table_name="chat_sessions")
    op.drop_index(op.f("ix_chat_sessions_status"), table_name="chat_sessions")
    op.drop_index(op.f("ix_chat_sessions_board_task_id"), table_name="chat_sessions")
    op.drop_table("chat_sessions")
    op.drop_index(op.f("ix_approvals_workflow_execution_id"), table_name="approvals")
    op.drop_index("ix_approvals_tenant_id_status_created_at", table_name="approvals")
    op.drop_index(op.f("ix_approvals_tenant_id"), table_name="approvals")
    op.drop_index(op.f("ix_approvals_task_id"), table_name="approvals")
    op.drop_index(op.f("ix_approvals_requested_by_user_id"), table_name="approvals")
    op.drop_index(
        "ix_approvals_pending_expires_at",
        table_name="approvals",
        postgresql_where=sa.text("status = 'pending' AND expires_at IS NOT NULL"),
    )
    op.drop_index(op.f("ix_approvals_decided_by_user_id"), table_name="approvals")
    op.drop_index(op.f("ix_approvals_agent_run_id"), table_name="approvals")
    op.drop_table("approvals")
    op.drop_index("ix_action_logs_tenant_id_created_at", table_name="action_logs")
    op.drop_index(op.f("ix_action_logs_tenant_id"), table_name="action_logs")
    op.drop_index(op.f("ix_action_logs_task_id"), table_name="action_logs")
    op.drop_index(op.f("ix_action_logs_status"), table_name="action_logs")
    op.drop_index(op.f("ix_action_logs_provider_name"), table_name="action_logs")
    op.drop_index(op.f("ix_action_logs_agent_run_id"), table_name="action_logs")
    op.drop_index(op.f("ix_action_logs_action_type"), table_name="action_logs")
    op.drop_table("action_logs")
    op.drop_index(op.f("ix_session_speakers_tenant_id"), table_name="session_speakers")
    op.drop_index(op.f("ix_session_speakers_speaker_id"), table_name="session_speakers")
    op.drop_index(op.f("ix_session_speakers_session_id"), table_name="session_speakers")
    op.drop_table("session_speakers")
    op.drop_index(op.f("ix_session_attendance_tenant_id"), table_name="session_attendance")
    op.drop_index(op.f("ix_session_attendance_session_id"), table_name="session_attendance")
    op.drop_index(op.f("ix_session_attendance_attendee_id"), table_name="session_attendance")
    op.drop_table("session_attendance")
    op.drop_index(op.f("ix_board_tasks_tenant_id"), table_name="board_tasks")
    op.drop_index(op.f("ix_board_tasks_status"), table_name="board_tasks")
    op.drop_index(op.f("ix_board_tasks_prompt_id"), table_name="board_tasks")
    op.drop_index(op.f("ix_board_tasks_project_id"), table_name="board_tasks")
    op.drop_index(op.f("ix_board_tasks_orchestration_task_id"), table_name="board_tasks")
    op.drop_table("board_tasks")
    op.drop_index(op.f("ix_ai_error_logs_workflow_id"), table_name="ai_error_logs")
    op.drop_index(op.f("ix_ai_error_logs_tenant_id"), table_name="ai_error_logs")
    op.drop_index(op.f("ix_ai_error_logs_task_id"), table_name="ai_error_logs")
    op.drop_index(op.f("ix_ai_error_logs_agent_id"), table_name="ai_error_logs")
    op.drop_table("ai_error_logs")
    op.drop_index(op.f("ix_agent_runs_tenant_id"), table_name="agent_runs")
    op.drop_index(op.f("ix_agent_runs_task_id"), table_name="agent_runs")
    op.drop_index(op.f("ix_agent_runs_status"), table_name="agent_runs")
    op.drop_index(op.f("ix_agent_runs_started_at"), table_name="agent_runs")
    op.drop_index(op.f("ix_agent_runs_agent_name"), table_name="agent_runs")
    op.drop_index(op.f("ix_agent_runs_agent_id"), table_name="agent_runs")
    op.drop_index("idx_agent_run_task_started", table_name="agent_runs")
    op.drop_table("agent_runs")
    op.drop_index(op.f("ix_tasks_workflow_execution_id"), table_name="tasks")
    op.drop_index("ix_tasks_tenant_id_created_at", table_name="tasks")
    op.drop_index(op.f("ix_tasks_tenant_id"), table_name="tasks")
    op.drop_index("ix_tasks_status_updated_at", table_name="tasks")
    op.drop_index(op.f("ix_tasks_status"), table_name="tasks")
    op.drop_index(op.f("ix_tasks_broker_message_id"), table_name="tasks")
    op.drop_index(op.f("ix_tasks_agent_id"), table_name="tasks")
    op.drop_table("tasks")
    op.drop_index(op.f("ix_payments_tenant_id"), table_name="payments")
    op.drop_index(op.f("ix_payments_order_id"), table_name="payments")
    op.drop_table("payments")
    op.drop_index(op.f("ix_order_items_ticket_id"), table_name="order_items")
    op.drop_index(op.f("ix_order_items_tenant_id"), table_name="order_items")
    op.drop_index(op.f("ix_order_items_order_id"), table_name="order_items")
    op.drop_table("order_items")
    op.drop_index(op.f("ix_conference_sessions_track_id"), table_name="conference_sessions")
    op.drop_index(op.f("ix_conference_sessions_tenant_id"), table_name="conference_sessions")
    op.drop_index(op.f("ix_conference_sessions_room_id"), table_name="conference_sessions")
    op.drop_index("ix_conference_sessions_event_id_starts_at", table_name="conference_sessions")
    op.drop_index(op.f("ix_conference_sessions_event_id"), table_name="conference_sessions")
    op.drop_table("conference_sessions")
    op.drop_index(op.f("ix_sponsorship_packages_tenant_id"), table_name="sponsorship_packages")
    op.drop_index(op.f("ix_sponsorship_packages_sponsor_id"), table_name="sponsorship_packages")
    op.drop_index(op.f("ix_sponsorship_packages_event_id"), table_name="sponsorship_packages")
    op.drop_table("sponsorship_packages")
    op.drop_index(op.f("ix_rooms_venue_id"), table_name="rooms")
    op.drop_index(op.f("ix_rooms_tenant_id"), table_name="rooms")
    op.drop_table("rooms")
    op.drop_index(op.f("ix_prompts_type"), table_name="prompts")
    op.drop_index(op.f("ix_prompts_tenant_id"), table_name="prompts")
    op.drop_index(op.f("ix_prompts_project_id"), table_name="prompts")
    op.drop_index(op.f("ix_prompts_parent_id"), table_name="prompts")
    op.drop_index(op.f("ix_prompts_created_from_interview_id"), table_name="prompts")
    op.drop_table("prompts")
    op.drop_index(op.f("ix_orders_tenant_id"), table_name="orders")
    op.drop_index(op.f("ix_orders_event_id"), table_name="orders")
    op.drop_index(op.f("ix_orders_attendee_id"), table_name="orders")
    op.drop_table("orders")
    op.drop_index(op.f("ix_contracts_venue_id"), table_name="contracts")
    op.drop_index(op.f("ix_contracts_tenant_id"), table_name="contracts")
    op.drop_index(op.f("ix_contracts_sponsor_id"), table_name="contracts")
    op.drop_index(op.f("ix_contracts_speaker_id"), table_name="contracts")
    op.drop_index(op.f("ix_contracts_event_id"), table_name="contracts")
    op.drop_table("contracts")
    op.drop_index(op.f("ix_budget_line_items_tenant_id"), table_name="budget_line_items")
    op.drop_index(op.f("ix_budget_line_items_budget_id"), table_name="budget_line_items")
    op.drop_table("budget_line_items")
    op.drop_index(
        op.f("ix_ai_workflow_executions_workflow_version_id"), table_name="ai_workflow_executions"
    )
    op.drop_index(
        op.f("ix_ai_workflow_executions_workflow_id"), table_name="ai_workflow_executions"
    )
    op.drop_index(op.f("ix_ai_workflow_executions_tenant_id"), table_name="ai_workflow_executions")
    op.drop_index(
        "ix_ai_workflow_executions_status_updated_at", table_name="ai_workflow_executions"
    )
    op.drop_index(op.f("ix_ai_workflow_executions_status"), table_name="ai_workflow_executions")
    op.drop_index(op.f("ix_ai_workflow_executions_event_id"), table_name="ai_workflow_executions")
    op.drop_table("ai_workflow_executions")
    op.drop_index(op.f("ix_venues_tenant_id"), table_name="venues")
    op.drop_index(op.f("ix_venues_event_id"), table_name="venues")
    op.drop_table("venues")
    op.drop_index(op.f("ix_tracks_tenant_id"), table_name="tracks")
    op.drop_index(op.f("ix_tracks_event_id"), table_name="tracks")
    op.drop_table("tracks")
    op.drop_index(op.f("ix_tickets_tenant_id"), table_name="tickets")
    op.drop_index(op.f("ix_tickets_event_id"), table_name="tickets")
    op.drop_table("tickets")
    op.drop_index(op.f("ix_sponsors_tenant_id"), table_name="sponsors")
    op.drop_index(op.f("ix_sponsors_event_id"), table_name="sponsors")
    op.drop_table("sponsors")
    op.drop_index(op.f("ix_speakers_tenant_id"), table_name="speakers")
    op.drop_index(op.f("ix_speakers_event_id"), table_name="speakers")
    op.drop_table("speakers")
    op.drop_index(op.f("ix_interviews_tenant_id"), table_name="interviews")
    op.drop_index(op.f("ix_interviews_status"), table_name="interviews")
    op.drop_index(op.f("ix_interviews_project_id"), table_name="interviews")
    op.drop_table("interviews")
    op.drop_index(op.f("ix_chunks_tenant_id"), table_name="chunks")
    op.drop_index(
        "ix_chunks_embedding_hnsw",
        table_name="chunks",
        postgresql_using="hnsw",
        postgresql_ops={"embedding": "vector_cosine_ops"},
    )
    op.drop_table("chunks")
    op.drop_index(op.f("ix_budgets_tenant_id"), table_name="budgets")
    op.drop_index(op.f("ix_budgets_event_id"), table_name="budgets")
    op.drop_table("budgets")
    op.drop_index(op.f("ix_attendees_user_id"), table_name="attendees")
    op.drop_index(op.f("ix_attendees_tenant_id"), table_name="attendees")
    op.drop_index(op.f("ix_attendees_event_id"), table_name="attendees")
    op.drop_table("attendees")
    op.drop_index(op.f("ix_ai_workflow_versions_workflow_id"), table_name="ai_workflow_versions")
    op.drop_index(op.f("ix_ai_workflow_versions_tenant_id"), table_name="ai_workflow_versions")
    op.drop_table("ai_workflow_versions")
    op.drop_index(op.f("ix_ai_training_data_tenant_id"), table_name="ai_training_data")
    op.drop_index(op.f("ix_ai_training_data_source_user_id"), table_name="ai_training_data")
    op.drop_index(op.f("ix_ai_training_data_source_event_id"), table_name="ai_training_data")
    op.drop_index(op.f("ix_ai_training_data_agent_id"), table_name="ai_training_data")
    op.drop_table("ai_training_data")
    op.drop_index(op.f("ix_ai_recommendations_tenant_id"), table_name="ai_recommendations")
    op.drop_index(op.f("ix_ai_recommendations_event_id"), table_name="ai_recommendations")
    op.drop_index("idx_ai_recommendations_user_event", table_name="ai_recommendations")
    op.drop_index("idx_ai_recommendations_type_confidence", table_name="ai_recommendations")
    op.drop_index(
        "idx_ai_recommendations_expires",
        table_name="ai_recommendations",
        postgresql_where=sa.text("expires_at IS NOT NULL"),
    )
    op.drop_table("ai_recommendations")
    op.drop_index(op.f("ix_ai_predictions_tenant_id"), table_name="ai_predictions")
    op.drop_index("idx_ai_predictions_horizon", table_name="ai_predictions")
    op.drop_index("idx_ai_predictions_expires", table_name="ai_predictions")
    op.drop_index("idx_ai_predictions_event_type", table_name="ai_predictions")
    op.drop_table("ai_predictions")
    op.drop_index(op.f("ix_ai_performance_metrics_tenant_id"), table_name="ai_performance_metrics")
    op.drop_index("idx_ai_performance_timestamp", table_name="ai_performance_metrics")
    op.drop_index("idx_ai_performance_agent_category", table_name="ai_performance_metrics")
    op.drop_table("ai_performance_metrics")
    op.drop_index(op.f("ix_ai_model_versions_tenant_id"), table_name="ai_model_versions")
    op.drop_index(op.f("ix_ai_model_versions_agent_id"), table_name="ai_model_versions")
    op.drop_table("ai_model_versions")
    op.drop_index(op.f("ix_ai_insights_tenant_id"), table_name="ai_insights")
    op.drop_index(op.f("ix_ai_insights_generated_by_agent_id"), table_name="ai_insights")
    op.drop_index("idx_ai_insights_event_type", table_name="ai_insights")
    op.drop_index("idx_ai_insights_created", table_name="ai_insights")
    op.drop_index("idx_ai_insights_confidence_impact", table_name="ai_insights")
    op.drop_table("ai_insights")
    op.drop_index(op.f("ix_ai_generated_content_tenant_id"), table_name="ai_generated_content")
    op.drop_index(op.f("ix_ai_generated_content_template_id"), table_name="ai_generated_content")
    op.drop_index(op.f("ix_ai_generated_content_source_user_id"), table_name="ai_generated_content")
    op.drop_index(
        op.f("ix_ai_generated_content_source_event_id"), table_name="ai_generated_content"
    )
    op.drop_index(
        op.f("ix_ai_generated_content_generated_by_agent_id"), table_name="ai_generated_content"
    )
    op.drop_index(op.f("ix_ai_generated_content_approved_by"), table_name="ai_generated_content")
    op.drop_table("ai_generated_content")
    op.drop_index(op.f("ix_ai_communications_tenant_id"), table_name="ai_communications")
    op.drop_index(
        op.f("ix_ai_communications_generated_by_agent_id"), table_name="ai_communications"
    )
    op.drop_index(op.f("ix_ai_communications_automation_rule_id"), table_name="ai_communications")
    op.drop_index("idx_ai_communications_status", table_name="ai_communications")
    op.drop_index(
        "idx_ai_communications_scheduled",
        table_name="ai_communications",
        postgresql_where=sa.text("send_scheduled_at IS NOT NULL"),
    )
    op.drop_index("idx_ai_communications_recipient", table_name="ai_communications")
    op.drop_table("ai_communications")
    op.drop_index(op.f("ix_ai_agent_performance_tenant_id"), table_name="ai_agent_performance")
    op.drop_index("idx_ai_agent_performance_metric", table_name="ai_agent_performance")
    op.drop_index("idx_ai_agent_performance_agent_date", table_name="ai_agent_performance")
    op.drop_table("ai_agent_performance")
    op.drop_index(op.f("ix_user_preferences_user_id"), table_name="user_preferences")
    op.drop_index(op.f("ix_user_preferences_tenant_id"), table_name="user_preferences")
    op.drop_table("user_preferences")
    op.drop_index(op.f("ix_tenant_memberships_user_id"), table_name="tenant_memberships")
    op.drop_index(op.f("ix_tenant_memberships_tenant_id"), table_name="tenant_memberships")
    op.drop_table("tenant_memberships")
    op.drop_index(op.f("ix_system_settings_tenant_id"), table_name="system_settings")
    op.drop_table("system_settings")
    op.drop_index(op.f("ix_projects_tenant_id"), table_name="projects")
    op.drop_index(op.f("ix_projects_name"), table_name="projects")
    op.drop_table("projects")
    op.drop_index(op.f("ix_knowledge_sources_tenant_id"), table_name="knowledge_sources")
    op.drop_table("knowledge_sources")
    op.drop_index("ix_events_tenant_id_status", table_name="events")
    op.drop_index(op.f("ix_events_tenant_id"), table_name="events")
    op.drop_table("events")
    op.drop_index(op.f("ix_content_templates_tenant_id"), table_name="content_templates")
    op.drop_table("content_templates")
    op.drop_index(op.f("ix_automation_rules_tenant_id"), table_name="automation_rules")
    op.drop_table("automation_rules")
    op.drop_index(op.f("ix_audit_logs_user_id"), table_name="audit_logs")
    op.drop_index("ix_audit_logs_tenant_id_created_at", table_name="audit_logs")
    op.drop_index(op.f("ix_audit_logs_tenant_id"), table_name="audit_logs")
    op.drop_index("ix_audit_logs_resource", table_name="audit_logs")
    op.drop_index(op.f("ix_audit_logs_action"), table_name="audit_logs")
    op.drop_table("audit_logs")
    op.drop_index(op.f("ix_ai_workflows_tenant_id"), table_name="ai_workflows")
    op.drop_table("ai_workflows")
    op.drop_index(op.f("ix_ai_models_usage_type"), table_name="ai_models")
    op.drop_index(op.f("ix_ai_models_tenant_id"), table_name="ai_models")
    op.drop_index(op.f("ix_ai_models_provider"), table_name="ai_models")
    op.drop_index(op.f("ix_ai_models_is_active"), table_name="ai_models")
    op.drop_table("ai_models")
    op.drop_index(op.f("ix_ai_agents_tenant_id"), table_name="ai_agents")
    op.drop_table("ai_agents")
    op.drop_table("users")
    op.drop_index(op.f("ix_tenants_name"), table_name="tenants")
    op.drop_index(op.f("ix_tenants_is_active"), table_name="tenants")
    op.drop_table("tenants")
    op.execute("DROP FUNCTION IF EXISTS set_updated_at()")
    op.execute("DROP EXTENSION IF EXISTS vector")
