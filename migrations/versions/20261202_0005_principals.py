"""Principals: tenant API keys with scopes, user tokens, signed-submission replay guard.

Revision ID: 0005_principals
Revises: 0004_queue_probes
Create Date: 2026-12-02 12:00:00

- ``api_keys``: a tenant's service keys (prefix shown, key hashed for bearer look-up and
  encrypted for HMAC verification, scopes, expiry, last use, revocation);
- ``user_tokens``: a user's tokens for scripts, each for one tenant;
- ``submission_nonces``: the nonces signed broker submissions used (replay guard);
- ``tenants.broker_auth``: ``trusted`` (default) or ``signed``.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005_principals"
down_revision: str | None = "0004_queue_probes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _tenant_column() -> sa.Column:
    return sa.Column("tenant_id", sa.UUID(), nullable=False)


def _created_at() -> sa.Column:
    return sa.Column(
        "created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
    )


def _tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"],
        ["tenants.id"],
        name=op.f(f"fk_{table}_tenant_id_tenants"),
        ondelete="CASCADE",
    )


def upgrade() -> None:
    op.add_column(
        "tenants",
        sa.Column("broker_auth", sa.String(length=7), server_default="trusted", nullable=False),
    )
    op.create_check_constraint(
        op.f("ck_tenants_broker_auth"), "tenants", "broker_auth IN ('trusted', 'signed')"
    )

    op.create_table(
        "api_keys",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        _tenant_column(),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("prefix", sa.String(length=32), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("signing_secret_encrypted", sa.LargeBinary(), nullable=False),
        sa.Column("scopes", postgresql.ARRAY(sa.String(length=16)), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        _created_at(),
        sa.CheckConstraint(
            "cardinality(scopes) > 0 AND scopes <@ "
            "ARRAY['submit', 'read', 'decide', 'admin']::varchar[]",
            name=op.f("ck_api_keys_known_scopes"),
        ),
        _tenant_fk("api_keys"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
        sa.UniqueConstraint("prefix", name=op.f("uq_api_keys_prefix")),
    )
    op.create_index(op.f("ix_api_keys_tenant_id"), "api_keys", ["tenant_id"], unique=False)

    op.create_table(
        "user_tokens",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        _tenant_column(),
        sa.Column("user_id", sa.UUID(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=True),
        sa.Column("prefix", sa.String(length=32), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        _created_at(),
        _tenant_fk("user_tokens"),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_user_tokens_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_tokens")),
        sa.UniqueConstraint("prefix", name=op.f("uq_user_tokens_prefix")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_user_tokens_token_hash")),
    )
    op.create_index(op.f("ix_user_tokens_tenant_id"), "user_tokens", ["tenant_id"], unique=False)
    op.create_index(op.f("ix_user_tokens_user_id"), "user_tokens", ["user_id"], unique=False)

    op.create_table(
        "submission_nonces",
        sa.Column("id", sa.UUID(), server_default=sa.text("gen_random_uuid()"), nullable=False),
        _tenant_column(),
        sa.Column("key_id", sa.UUID(), nullable=False),
        sa.Column("nonce", sa.String(length=128), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=True),
        sa.Column(
            "seen_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        _tenant_fk("submission_nonces"),
        sa.ForeignKeyConstraint(
            ["key_id"],
            ["api_keys.id"],
            name=op.f("fk_submission_nonces_key_id_api_keys"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_submission_nonces")),
        sa.UniqueConstraint("key_id", "nonce", name=op.f("uq_submission_nonces_key_id_nonce")),
    )
    op.create_index(
        op.f("ix_submission_nonces_tenant_id"), "submission_nonces", ["tenant_id"], unique=False
    )
    op.create_index("ix_submission_nonces_seen_at", "submission_nonces", ["seen_at"], unique=False)


def downgrade() -> None:
    op.drop_table("submission_nonces")
    op.drop_table("user_tokens")
    op.drop_table("api_keys")
    op.drop_constraint(op.f("ck_tenants_broker_auth"), "tenants", type_="check")
    op.drop_column("tenants", "broker_auth")
