"""Notifications: webhook endpoints, the outbox of their deliveries, email delivery state.

Revision ID: 0009_notifications
Revises: 0008_provider_rows
Create Date: 2026-12-03 09:00:00

The outbox is written by the database itself: triggers on ``tasks``,
``ai_workflow_executions`` and ``approvals`` insert one ``webhook_deliveries`` row per
subscribed, active endpoint of the row's tenant, in the transaction of the status change. Every
code path that changes those statuses (the agent loop's one-statement finish, the reaper, a
cancellation, a decision, the expiry sweep) is covered, and a change that rolls back leaves no
delivery behind. The triggers run as the caller, under row-level security: they see only the
endpoints of the tenant whose row changed.

``agentworker_due_notifications`` is the one cross-tenant question of the delivery sweep: which
deliveries and emails are due, ids and tenants only.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0009_notifications"
down_revision: str | None = "0008_provider_rows"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RUNTIME_ROLE = "agentworker_runtime"
_TABLES = ("webhook_endpoints", "webhook_deliveries", "email_deliveries")

# One event for every subscribed endpoint of the tenant: an endpoint subscribes to a type, to
# its family ("execution.*") or to everything ("*"). The event id is the webhook-id header.
_OUTBOX = """
CREATE FUNCTION agentworker_webhook_outbox(p_tenant uuid, p_type text, p_data jsonb)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    p_event uuid := gen_random_uuid();
BEGIN
    INSERT INTO webhook_deliveries (tenant_id, endpoint_id, event_type, event_id, payload)
    SELECT p_tenant, e.id, p_type, p_event,
           jsonb_build_object(
               'type', p_type,
               'timestamp', to_char(clock_timestamp() AT TIME ZONE 'UTC',
                                    'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
               'data', p_data)
      FROM webhook_endpoints e
     WHERE e.tenant_id = p_tenant AND e.active
       AND (p_type = ANY(e.event_types) OR '*' = ANY(e.event_types)
            OR split_part(p_type, '.', 1) || '.*' = ANY(e.event_types));
END $$;
"""

_TASK_EVENTS = """
CREATE FUNCTION agentworker_task_webhooks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM agentworker_webhook_outbox(
        NEW.tenant_id,
        CASE NEW.status WHEN 'SUCCEEDED' THEN 'task.succeeded' ELSE 'task.failed' END,
        jsonb_build_object(
            'task_id', NEW.id, 'status', NEW.status, 'agent_name', NEW.agent_name,
            'title', NEW.title, 'result_summary', NEW.result_summary, 'error', NEW.error,
            'error_code', NEW.error_code, 'attempts', NEW.attempts,
            'workflow_execution_id', NEW.workflow_execution_id,
            'workflow_step', NEW.workflow_step, 'finished_at', NEW.finished_at));
    RETURN NULL;
END $$;
"""

_EXECUTION_EVENTS = """
CREATE FUNCTION agentworker_execution_webhooks() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    p_type text;
BEGIN
    p_type := CASE
        WHEN NEW.status = 'running' AND OLD.status = 'awaiting_approval' THEN 'execution.resumed'
        WHEN NEW.status = 'running' THEN 'execution.started'
        WHEN NEW.status = 'awaiting_approval' THEN 'execution.waiting'
        WHEN NEW.status = 'completed' THEN 'execution.succeeded'
        WHEN NEW.status = 'failed' THEN 'execution.failed'
        WHEN NEW.status = 'cancelled' THEN 'execution.cancelled'
    END;
    IF p_type IS NOT NULL THEN
        PERFORM agentworker_webhook_outbox(
            NEW.tenant_id, p_type,
            jsonb_build_object(
                'execution_id', NEW.id, 'workflow_id', NEW.workflow_id,
                'workflow_version', NEW.workflow_version, 'status', NEW.status,
                'previous_status', OLD.status, 'current_step', NEW.current_step,
                'started_at', NEW.started_at, 'completed_at', NEW.completed_at,
                'error', NEW.error_log ->> 'error'));
    END IF;
    RETURN NULL;
END $$;
"""

_APPROVAL_EVENTS = """
CREATE FUNCTION agentworker_approval_webhooks() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM agentworker_webhook_outbox(
        NEW.tenant_id,
        CASE WHEN TG_OP = 'INSERT' THEN 'approval.requested' ELSE 'approval.decided' END,
        jsonb_build_object(
            'approval_id', NEW.id, 'kind', NEW.kind, 'status', NEW.status, 'title', NEW.title,
            'required_role', NEW.required_role, 'requested_by', NEW.requested_by,
            'task_id', NEW.task_id, 'workflow_execution_id', NEW.workflow_execution_id,
            'step_key', NEW.step_key, 'expires_at', NEW.expires_at, 'quorum', NEW.quorum,
            'created_at', NEW.created_at, 'decided_at', NEW.decided_at,
            'decided_by_user_id', NEW.decided_by_user_id,
            'decision_comment', NEW.decision_comment));
    RETURN NULL;
END $$;
"""

#: (trigger, table, timing and condition, function)
_TRIGGERS = [
    (
        "tasks_final_webhooks",
        "tasks",
        "AFTER UPDATE OF status",
        "OLD.status IS DISTINCT FROM NEW.status AND NEW.status IN ('SUCCEEDED', 'FAILED')",
        "agentworker_task_webhooks",
    ),
    (
        "tasks_inserted_final_webhooks",
        "tasks",
        "AFTER INSERT",
        "NEW.status IN ('SUCCEEDED', 'FAILED')",
        "agentworker_task_webhooks",
    ),
    (
        "executions_status_webhooks",
        "ai_workflow_executions",
        "AFTER UPDATE OF status",
        "OLD.status IS DISTINCT FROM NEW.status",
        "agentworker_execution_webhooks",
    ),
    (
        "approvals_requested_webhooks",
        "approvals",
        "AFTER INSERT",
        "NEW.status = 'pending'",
        "agentworker_approval_webhooks",
    ),
    (
        "approvals_decided_webhooks",
        "approvals",
        "AFTER UPDATE OF status",
        "OLD.status = 'pending' AND NEW.status <> 'pending'",
        "agentworker_approval_webhooks",
    ),
]

_DUE_SIGNATURE = "agentworker_due_notifications(batch integer, with_emails boolean)"
_DUE = """
    (SELECT 'webhook'::text, d.id, d.tenant_id FROM webhook_deliveries d
      WHERE d.status = 'pending' AND d.next_attempt_at <= now()
      ORDER BY d.next_attempt_at LIMIT batch)
    UNION ALL
    (SELECT 'email'::text, c.id, c.tenant_id FROM ai_communications c
      WHERE with_emails AND c.communication_type = 'email' AND c.delivery_status = 'pending'
        AND (c.send_scheduled_at IS NULL OR c.send_scheduled_at <= now())
        AND NOT EXISTS (SELECT 1 FROM email_deliveries e
                         WHERE e.communication_id = c.id AND e.next_attempt_at > now())
      ORDER BY c.created_at LIMIT batch)
"""


def upgrade() -> None:
    _create_tables()
    for table in _TABLES:
        op.execute(f"SELECT agentworker_protect_tenant_table('{table}')")
        op.execute(
            f"CREATE TRIGGER {table}_set_updated_at BEFORE UPDATE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION set_updated_at()"
        )
        op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {RUNTIME_ROLE}")
    for function in (_OUTBOX, _TASK_EVENTS, _EXECUTION_EVENTS, _APPROVAL_EVENTS):
        op.execute(function)
    for name, table, timing, condition, function in _TRIGGERS:
        op.execute(
            f"CREATE TRIGGER {name} {timing} ON {table} FOR EACH ROW WHEN ({condition}) "
            f"EXECUTE FUNCTION {function}()"
        )
    schema = op.get_bind().exec_driver_sql("SELECT current_schema()").scalar_one()
    op.execute(
        f"CREATE FUNCTION {_DUE_SIGNATURE} "
        "RETURNS TABLE(kind text, item_id uuid, tenant_id uuid) LANGUAGE sql STABLE "
        f"SECURITY DEFINER SET search_path = {schema}, pg_temp AS $$ {_DUE} $$"
    )
    op.execute(f"REVOKE ALL ON FUNCTION {_DUE_SIGNATURE} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {_DUE_SIGNATURE} TO {RUNTIME_ROLE}")


def _create_tables() -> None:
    def timestamps() -> list[sa.Column[object]]:
        return [
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
        ]

    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=True),
        sa.Column("secret_encrypted", sa.LargeBinary(), nullable=False),
        sa.Column("event_types", postgresql.ARRAY(sa.String(length=64)), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        *timestamps(),
        sa.CheckConstraint(
            "cardinality(event_types) > 0",
            name=op.f("ck_webhook_endpoints_subscribes_to_something"),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_webhook_endpoints_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_endpoints")),
    )
    op.create_index(
        op.f("ix_webhook_endpoints_tenant_id"), "webhook_endpoints", ["tenant_id"], unique=False
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("endpoint_id", sa.UUID(), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.UUID(), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "succeeded",
                "failed",
                name="webhook_delivery_status",
                native_enum=False,
                create_constraint=True,
            ),
            server_default=sa.text("'pending'"),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "next_attempt_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status_code", sa.Integer(), nullable=True),
        sa.Column("last_response", sa.Text(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resent_from_id", sa.UUID(), nullable=True),
        *timestamps(),
        sa.CheckConstraint(
            "attempts >= 0", name=op.f("ck_webhook_deliveries_attempts_nonnegative")
        ),
        sa.ForeignKeyConstraint(
            ["endpoint_id"],
            ["webhook_endpoints.id"],
            name=op.f("fk_webhook_deliveries_endpoint_id_webhook_endpoints"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["resent_from_id"],
            ["webhook_deliveries.id"],
            name=op.f("fk_webhook_deliveries_resent_from_id_webhook_deliveries"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_webhook_deliveries_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
    )
    op.create_index(
        "ix_webhook_deliveries_due",
        "webhook_deliveries",
        ["next_attempt_at"],
        unique=False,
        postgresql_where=sa.text("status = 'pending'"),
    )
    for column in ("endpoint_id", "event_id", "tenant_id"):
        op.create_index(
            op.f(f"ix_webhook_deliveries_{column}"), "webhook_deliveries", [column], unique=False
        )
    op.create_table(
        "email_deliveries",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("communication_id", sa.UUID(), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column(
            "next_attempt_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("message_id", sa.String(length=255), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        *timestamps(),
        sa.CheckConstraint("attempts >= 0", name=op.f("ck_email_deliveries_attempts_nonnegative")),
        sa.ForeignKeyConstraint(
            ["communication_id"],
            ["ai_communications.id"],
            name=op.f("fk_email_deliveries_communication_id_ai_communications"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_email_deliveries_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_deliveries")),
        sa.UniqueConstraint("communication_id", name=op.f("uq_email_deliveries_communication_id")),
    )
    op.create_index(
        op.f("ix_email_deliveries_tenant_id"), "email_deliveries", ["tenant_id"], unique=False
    )


def downgrade() -> None:
    op.execute(f"DROP FUNCTION IF EXISTS {_DUE_SIGNATURE}")
    for name, table, _timing, _condition, _function in _TRIGGERS:
        op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
    for function in (
        "agentworker_task_webhooks()",
        "agentworker_execution_webhooks()",
        "agentworker_approval_webhooks()",
        "agentworker_webhook_outbox(uuid, text, jsonb)",
    ):
        op.execute(f"DROP FUNCTION IF EXISTS {function}")
    op.drop_table("email_deliveries")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_endpoints")
