"""Queue probes: the reaper tells a task whose message was lost from one that is only queued.

Revision ID: 0004_queue_probes
Revises: 0003_task_hand_backs
Create Date: 2026-12-02 06:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_queue_probes"
down_revision: str | None = "0003_task_hand_backs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "queue_probes",
        sa.Column("queue", sa.String(length=64), nullable=False),
        sa.Column("priority", sa.SmallInteger(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("passed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("priority BETWEEN 0 AND 9", name=op.f("ck_queue_probes_priority_range")),
        sa.PrimaryKeyConstraint("queue", "priority", name=op.f("pk_queue_probes")),
    )


def downgrade() -> None:
    op.drop_table("queue_probes")
