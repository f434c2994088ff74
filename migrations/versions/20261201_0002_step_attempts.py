"""Step attempts: going back to an earlier step starts a new attempt of it.

A workflow step run is unique per (execution, step, attempt) instead of (execution, step), and
a gate's approval per (execution, step, attempt), so a ``goto:`` back asks the gate again
instead of finding the earlier decision. Existing rows are attempt 1.

Revision ID: 0002_step_attempts
Revises: 0001_initial
Create Date: 2026-12-01 23:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_step_attempts"
down_revision: str | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "ai_workflow_step_runs",
        sa.Column("attempt", sa.Integer(), server_default=sa.text("1"), nullable=False),
    )
    op.create_check_constraint(
        op.f("ck_ai_workflow_step_runs_attempt_positive"), "ai_workflow_step_runs", "attempt >= 1"
    )
    op.drop_constraint(
        op.f("uq_ai_workflow_step_runs_execution_id_step_key"), "ai_workflow_step_runs"
    )
    op.create_unique_constraint(
        op.f("uq_ai_workflow_step_runs_execution_id_step_key_attempt"),
        "ai_workflow_step_runs",
        ["execution_id", "step_key", "attempt"],
    )
    op.add_column("approvals", sa.Column("step_attempt", sa.Integer(), nullable=True))
    op.execute("UPDATE approvals SET step_attempt = 1 WHERE step_key IS NOT NULL")
    op.drop_constraint(op.f("uq_approvals_workflow_execution_id_step_key"), "approvals")
    op.create_unique_constraint(
        op.f("uq_approvals_workflow_execution_id_step_key_step_attempt"),
        "approvals",
        ["workflow_execution_id", "step_key", "step_attempt"],
    )


def downgrade() -> None:
    # Later attempts have no place in the old shape: keep each step's first.
    op.execute("DELETE FROM approvals WHERE step_attempt > 1")
    op.execute("DELETE FROM ai_workflow_step_runs WHERE attempt > 1")
    op.drop_constraint(
        op.f("uq_approvals_workflow_execution_id_step_key_step_attempt"), "approvals"
    )
    op.create_unique_constraint(
        op.f("uq_approvals_workflow_execution_id_step_key"),
        "approvals",
        ["workflow_execution_id", "step_key"],
    )
    op.drop_column("approvals", "step_attempt")
    op.drop_constraint(
        op.f("uq_ai_workflow_step_runs_execution_id_step_key_attempt"), "ai_workflow_step_runs"
    )
    op.create_unique_constraint(
        op.f("uq_ai_workflow_step_runs_execution_id_step_key"),
        "ai_workflow_step_runs",
        ["execution_id", "step_key"],
    )
    op.drop_constraint(
        op.f("ck_ai_workflow_step_runs_attempt_positive"), "ai_workflow_step_runs", type_="check"
    )
    op.drop_column("ai_workflow_step_runs", "attempt")
