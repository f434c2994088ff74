"""A run's conversation as one row per message: a step's write no longer grows with the run.

Revision ID: 0016_message_rows
Revises: 0015_fair_dispatch
Create Date: 2026-12-05 12:00:00

``agent_runs.messages`` was one JSONB array that every step rewrote whole (and logged whole in
the WAL): O(n²) for a long run. ``agent_run_messages`` holds one row per message, numbered
``seq`` from 1; ``agent_runs.message_count`` says how many a run has, so a step inserts only its
own messages (``worker.durable.conversation``). Existing runs' messages move into rows here, in
batches of runs, so a run interrupted before the upgrade resumes after it; then the column is
dropped (models/README.md, seed 002: why it is not kept). Downgrading folds the rows back.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_message_rows"
down_revision: str | None = "0015_fair_dispatch"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RUNTIME_ROLE = "agentworker_runtime"
#: Runs moved per statement: bounds each statement's memory, whatever the table holds.
BATCH = 500

_NEXT_BATCH = sa.text(
    "SELECT id FROM agent_runs WHERE id > :after ORDER BY id LIMIT :batch"
).bindparams(sa.bindparam("after", type_=sa.UUID()))

_TO_ROWS = sa.text(
    """
    WITH runs AS (
        UPDATE agent_runs r
           SET message_count = CASE WHEN jsonb_typeof(r.messages) = 'array'
                                    THEN jsonb_array_length(r.messages) ELSE 0 END
         WHERE r.id = ANY(:ids)
     RETURNING r.id, r.tenant_id, r.messages, r.updated_at
    )
    INSERT INTO agent_run_messages (run_id, seq, tenant_id, message, created_at)
    SELECT runs.id, e.seq, runs.tenant_id, e.message, runs.updated_at
      FROM runs, jsonb_array_elements(runs.messages) WITH ORDINALITY AS e(message, seq)
     WHERE jsonb_typeof(runs.messages) = 'array'
    """
).bindparams(sa.bindparam("ids", type_=sa.ARRAY(sa.UUID())))

_TO_COLUMN = sa.text(
    """
    UPDATE agent_runs r
       SET messages = COALESCE(
               (SELECT jsonb_agg(m.message ORDER BY m.seq) FROM agent_run_messages m
                 WHERE m.run_id = r.id), '[]'::jsonb)
     WHERE r.id = ANY(:ids)
    """
).bindparams(sa.bindparam("ids", type_=sa.ARRAY(sa.UUID())))


def _in_batches(statement: sa.TextClause) -> None:
    """Run ``statement`` for every agent run, ``BATCH`` runs (in id order) at a time."""
    connection = op.get_bind()
    after = "00000000-0000-0000-0000-000000000000"
    while ids := list(connection.execute(_NEXT_BATCH, {"after": after, "batch": BATCH}).scalars()):
        connection.execute(statement, {"ids": ids})
        after = ids[-1]


def upgrade() -> None:
    op.create_table(
        "agent_run_messages",
        sa.Column("run_id", sa.UUID(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("message", sa.dialects.postgresql.JSONB(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("seq >= 1", name=op.f("ck_agent_run_messages_seq_positive")),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["agent_runs.id"],
            name=op.f("fk_agent_run_messages_run_id_agent_runs"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_agent_run_messages_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", "seq", name=op.f("pk_agent_run_messages")),
    )
    op.create_index(
        op.f("ix_agent_run_messages_tenant_id"), "agent_run_messages", ["tenant_id"], unique=False
    )
    op.add_column(
        "agent_runs",
        sa.Column("message_count", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    _in_batches(_TO_ROWS)
    op.drop_column("agent_runs", "messages")
    op.execute("SELECT agentworker_protect_tenant_table('agent_run_messages')")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON agent_run_messages TO {RUNTIME_ROLE}")


def downgrade() -> None:
    op.add_column(
        "agent_runs",
        sa.Column(
            "messages",
            sa.dialects.postgresql.JSONB(),
            server_default=sa.text("'[]'::jsonb"),
            nullable=False,
        ),
    )
    _in_batches(_TO_COLUMN)
    op.drop_column("agent_runs", "message_count")
    op.drop_table("agent_run_messages")
