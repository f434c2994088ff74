"""Bound decisions: who decided through which channel, approved argument digests, quorums.

Revision ID: 0006_bound_decisions
Revises: 0005_principals
Create Date: 2026-12-02 12:00:00

- ``approval_decisions``: one vote per approver and approval, with the verified principal it
  came through (kind, label, key, OS user), the digest it was bound to, its edited arguments;
- ``approvals``: ``quorum`` and ``rejections_needed`` (default 1), the digest of a tool call
  pending now, the tool's argument schema, what was approved (``approved_digest``, and
  ``approved_arguments`` when an approver edited them), and the deciding principal.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006_bound_decisions"
down_revision: str | None = "0005_principals"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _jsonb(name: str) -> sa.Column:
    return sa.Column(name, postgresql.JSONB(astext_type=sa.Text()), nullable=True)


def upgrade() -> None:
    op.add_column("approvals", _jsonb("decided_by_principal"))
    op.add_column(
        "approvals", sa.Column("quorum", sa.Integer(), server_default=sa.text("1"), nullable=False)
    )
    op.add_column(
        "approvals",
        sa.Column("rejections_needed", sa.Integer(), server_default=sa.text("1"), nullable=False),
    )
    op.add_column("approvals", sa.Column("digest", sa.String(length=64), nullable=True))
    op.add_column("approvals", _jsonb("arguments_schema"))
    op.add_column("approvals", _jsonb("approved_arguments"))
    op.add_column("approvals", sa.Column("approved_digest", sa.String(length=64), nullable=True))
    op.create_check_constraint(
        op.f("ck_approvals_quorum_positive"), "approvals", "quorum >= 1 AND rejections_needed >= 1"
    )
    op.create_check_constraint(
        op.f("ck_approvals_approved_digest_iff_approved"),
        "approvals",
        "approved_digest IS NULL OR status = 'approved'",
    )

    op.create_table(
        "approval_decisions",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        sa.Column("tenant_id", sa.UUID(), nullable=False),
        sa.Column("approval_id", sa.UUID(), nullable=False),
        sa.Column("user_id", sa.UUID(), nullable=True),
        sa.Column("approver", sa.String(length=320), nullable=False),
        sa.Column(
            "decision",
            sa.Enum(
                "approve",
                "reject",
                name="vote_decision",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column(
            "principal_kind",
            sa.Enum(
                "user",
                "service_key",
                "broker",
                "cli",
                name="principal_kind",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("principal", sa.String(length=255), server_default="", nullable=False),
        sa.Column("key_id", sa.UUID(), nullable=True),
        sa.Column("os_user", sa.String(length=255), nullable=True),
        sa.Column("digest", sa.String(length=64), nullable=True),
        _jsonb("arguments"),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["approval_id"],
            ["approvals.id"],
            name=op.f("fk_approval_decisions_approval_id_approvals"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name=op.f("fk_approval_decisions_tenant_id_tenants"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_approval_decisions_user_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approval_decisions")),
        sa.UniqueConstraint(
            "approval_id", "user_id", name=op.f("uq_approval_decisions_approval_id_user_id")
        ),
    )
    for column in ("approval_id", "tenant_id", "user_id"):
        op.create_index(
            op.f(f"ix_approval_decisions_{column}"), "approval_decisions", [column], unique=False
        )


def downgrade() -> None:
    op.drop_table("approval_decisions")
    op.drop_constraint(op.f("ck_approvals_approved_digest_iff_approved"), "approvals")
    op.drop_constraint(op.f("ck_approvals_quorum_positive"), "approvals")
    for column in (
        "approved_digest",
        "approved_arguments",
        "arguments_schema",
        "digest",
        "rejections_needed",
        "quorum",
        "decided_by_principal",
    ):
        op.drop_column("approvals", column)
