"""Seed 004's pipeline at work: an interview names the workflow execution and step that ask
it, and a prompt's version is unique per project and type.

Revision ID: 0014_orchestrator_pipeline
Revises: 0013_automation
Create Date: 2026-12-04 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_orchestrator_pipeline"
down_revision: str | None = "0013_automation"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("interviews", sa.Column("workflow_execution_id", sa.UUID(), nullable=True))
    op.add_column("interviews", sa.Column("workflow_step", sa.String(length=100), nullable=True))
    op.create_index(
        op.f("ix_interviews_workflow_execution_id"), "interviews", ["workflow_execution_id"]
    )
    op.create_foreign_key(
        op.f("fk_interviews_workflow_execution_id_ai_workflow_executions"),
        "interviews",
        "ai_workflow_executions",
        ["workflow_execution_id"],
        ["id"],
        ondelete="SET NULL",
    )
    op.create_unique_constraint(
        op.f("uq_prompts_project_id_type_version"), "prompts", ["project_id", "type", "version"]
    )


def downgrade() -> None:
    op.drop_constraint(op.f("uq_prompts_project_id_type_version"), "prompts", type_="unique")
    op.drop_constraint(
        op.f("fk_interviews_workflow_execution_id_ai_workflow_executions"),
        "interviews",
        type_="foreignkey",
    )
    op.drop_index(op.f("ix_interviews_workflow_execution_id"), table_name="interviews")
    op.drop_column("interviews", "workflow_step")
    op.drop_column("interviews", "workflow_execution_id")
