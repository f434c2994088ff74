"""Fair dispatch: a task is released to the broker under its tenant's window, or held.

``tasks.released_at`` is NULL while a task is held back behind its tenant's tasks in flight
(worker.durable.dispatch). Existing rows were all published: they count as released when
the migration ran (a fast default: the table is not rewritten).

Revision ID: 0015_fair_dispatch
Revises: 0014_orchestrator_pipeline
Create Date: 2026-12-05 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_fair_dispatch"
down_revision: str | None = "0014_orchestrator_pipeline"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # now() is stable: PostgreSQL stores it once as the column's fast default, so existing
    # rows read as released without the table being rewritten.
    op.add_column(
        "tasks",
        sa.Column(
            "released_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=True
        ),
    )
    op.create_index(
        "ix_tasks_in_flight",
        "tasks",
        ["tenant_id"],
        postgresql_where=sa.text("released_at IS NOT NULL AND status IN ('PENDING', 'RUNNING')"),
    )
    op.create_index(
        "ix_tasks_held",
        "tasks",
        ["tenant_id", sa.text("priority DESC"), "created_at"],
        postgresql_where=sa.text("released_at IS NULL AND status = 'PENDING'"),
    )


def downgrade() -> None:
    op.drop_index("ix_tasks_held", table_name="tasks")
    op.drop_index("ix_tasks_in_flight", table_name="tasks")
    op.drop_column("tasks", "released_at")
