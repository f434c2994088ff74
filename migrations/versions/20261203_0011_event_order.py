"""Event readers read in commit-safe order: each event row records its writer's transaction.

Revision ID: 0011_event_order
Revises: 0010_user_tenants
Create Date: 2026-12-03 12:00:00

``event_logs.id`` is taken from a sequence at INSERT, but transactions commit in another
order, so a reader of "ids above N" could pass an id whose row commits later. ``writer_xid``
(the writing transaction's id, ``pg_current_xact_id()``) lets readers take only rows whose
writer is older than every transaction still in progress, in ``(writer_xid, id)`` order: see
``worker.durable.event_order``. Rows written before this revision keep NULL (read as 0: they
come first, in id order). The column is added without a default and the default set after,
so existing rows are not rewritten.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011_event_order"
down_revision: str | None = "0010_user_tenants"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE event_logs ADD COLUMN writer_xid BIGINT")
    op.execute(
        "ALTER TABLE event_logs ALTER COLUMN writer_xid "
        "SET DEFAULT (pg_current_xact_id()::text::bigint)"
    )


def downgrade() -> None:
    op.execute("ALTER TABLE event_logs DROP COLUMN writer_xid")
