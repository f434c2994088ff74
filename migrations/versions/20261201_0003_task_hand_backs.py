"""Task hand-backs: only claims that ended without a hand-back count against max_attempts.

Revision ID: 0003_task_hand_backs
Revises: 0002_step_attempts
Create Date: 2026-12-02 01:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_task_hand_backs"
down_revision: str | None = "0002_step_attempts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "tasks",
        sa.Column("hand_backs", sa.Integer(), server_default=sa.text("0"), nullable=False),
    )
    op.create_check_constraint(
        op.f("ck_tasks_hand_backs_nonnegative"), "tasks", "hand_backs >= 0"
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_tasks_hand_backs_nonnegative"), "tasks", type_="check")
    op.drop_column("tasks", "hand_backs")
