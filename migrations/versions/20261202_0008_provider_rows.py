"""The worker's start check counts every tenant's active provider rows (row-level security).

Revision ID: 0008_provider_rows
Revises: 0007_row_level_security
Create Date: 2026-12-02 13:00:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008_provider_rows"
down_revision: str | None = "0007_row_level_security"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SIGNATURE = "agentworker_active_provider_rows()"


def upgrade() -> None:
    schema = op.get_bind().exec_driver_sql("SELECT current_schema()").scalar_one()
    op.execute(
        f"CREATE FUNCTION {_SIGNATURE} RETURNS integer LANGUAGE sql STABLE SECURITY DEFINER "
        f"SET search_path = {schema}, pg_temp AS "
        "$$ SELECT count(*)::integer FROM ai_models WHERE is_active $$"
    )
    op.execute(f"REVOKE ALL ON FUNCTION {_SIGNATURE} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {_SIGNATURE} TO agentworker_runtime")


def downgrade() -> None:
    op.execute(f"DROP FUNCTION IF EXISTS {_SIGNATURE}")
