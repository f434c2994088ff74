"""The inbox asks which tenants a signed-in user belongs to (row-level security).

Revision ID: 0010_user_tenants
Revises: 0009_notifications
Create Date: 2026-12-03 10:00:00

A membership is visible only inside its tenant's scope, and the inbox must learn a person's
tenants before it can enter any of them. ``agentworker_tenants_of_user`` answers that one
question, ids only; the role is then read inside each tenant's scope.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010_user_tenants"
down_revision: str | None = "0009_notifications"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SIGNATURE = "agentworker_tenants_of_user(member uuid)"


def upgrade() -> None:
    schema = op.get_bind().exec_driver_sql("SELECT current_schema()").scalar_one()
    op.execute(
        f"CREATE FUNCTION {_SIGNATURE} RETURNS SETOF uuid LANGUAGE sql STABLE SECURITY DEFINER "
        f"SET search_path = {schema}, pg_temp AS "
        "$$ SELECT tenant_id FROM tenant_memberships WHERE user_id = member $$"
    )
    op.execute(f"REVOKE ALL ON FUNCTION {_SIGNATURE} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {_SIGNATURE} TO agentworker_runtime")


def downgrade() -> None:
    op.execute(f"DROP FUNCTION IF EXISTS {_SIGNATURE}")
