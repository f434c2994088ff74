"""Fork and replay: a run or a workflow execution made from another's step links to its parent.

Revision ID: 0019_run_forks
Revises: 0018_metrics_folding
Create Date: 2026-12-08 10:00:00

``agent_runs.parent_run_id`` and ``forked_at_step`` say which run a run was forked (or
replayed) from and after which of its steps (``worker.agents.forks``: step N is the
conversation up to the N-th model reply with the tool results it got back); the new run starts
from a copy of those messages, so no LLM call before that point is made again.
``ai_workflow_executions.parent_execution_id`` and ``forked_at_step`` (the step's key) do the
same for a workflow execution re-run from a step with its earlier steps' outputs copied
(``worker.workflows.forks``). Deleting a parent keeps its forks (SET NULL). No new table: the
columns live on tenant tables that row-level security already covers.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019_run_forks"
down_revision: str | None = "0018_metrics_folding"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("agent_runs", sa.Column("parent_run_id", sa.UUID(), nullable=True))
    op.add_column("agent_runs", sa.Column("forked_at_step", sa.Integer(), nullable=True))
    op.create_foreign_key(
        "fk_agent_runs_parent_run_id_agent_runs",
        "agent_runs",
        "agent_runs",
        ["parent_run_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_index("ix_agent_runs_parent_run_id", "agent_runs", ["parent_run_id"])
    op.create_check_constraint(
        "ck_agent_runs_forked_at_step_nonnegative", "agent_runs", "forked_at_step >= 0"
    )
    op.add_column(
        "ai_workflow_executions", sa.Column("parent_execution_id", sa.UUID(), nullable=True)
    )
    op.add_column(
        "ai_workflow_executions", sa.Column("forked_at_step", sa.String(200), nullable=True)
    )
    op.create_foreign_key(
        "fk_ai_workflow_executions_parent_execution_id_ai_workfl_41c5",
        "ai_workflow_executions",
        "ai_workflow_executions",
        ["parent_execution_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_index(
        "ix_ai_workflow_executions_parent_execution_id",
        "ai_workflow_executions",
        ["parent_execution_id"],
    )


def downgrade() -> None:
    op.drop_index(
        "ix_ai_workflow_executions_parent_execution_id", table_name="ai_workflow_executions"
    )
    op.drop_constraint(
        "fk_ai_workflow_executions_parent_execution_id_ai_workfl_41c5",
        "ai_workflow_executions",
        type_="foreignkey",
    )
    op.drop_column("ai_workflow_executions", "forked_at_step")
    op.drop_column("ai_workflow_executions", "parent_execution_id")
    op.drop_constraint("ck_agent_runs_forked_at_step_nonnegative", "agent_runs", type_="check")
    op.drop_index("ix_agent_runs_parent_run_id", table_name="agent_runs")
    op.drop_constraint("fk_agent_runs_parent_run_id_agent_runs", "agent_runs", type_="foreignkey")
    op.drop_column("agent_runs", "forked_at_step")
    op.drop_column("agent_runs", "parent_run_id")
