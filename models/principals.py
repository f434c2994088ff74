"""Who may act for a tenant: its API keys, its users' tokens, and the replay guard of signed
broker submissions (issue 12).

Secrets are never stored in clear: a key or token is kept as a SHA-256 hash (to find it when a
caller presents it) and, for API keys, encrypted (the worker needs the key itself to check an
HMAC signature made with it). The visible ``prefix`` is part of the key and names it in lists,
audit rows and signed messages.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, CreatedAt, TenantOwned, UUIDPrimaryKey, fk

#: The scopes a key may carry (``worker.security.principals.Scope``), as the CHECK spells them.
API_KEY_SCOPES = ("submit", "read", "decide", "admin")


class PrincipalKind(enum.StrEnum):
    """Through which channel someone acted (``worker.security.principals``)."""

    #: A person signed in (password, SSO header or a per-user token).
    USER = "user"
    #: A service holding a tenant API key (HTTP bearer, or a signed broker message).
    SERVICE_KEY = "service_key"
    #: A message on the broker of a tenant in ``trusted`` mode: the broker's own
    #: authentication (Redis ACL user, RabbitMQ user and vhost) is the boundary.
    BROKER = "broker"
    #: An operator at ``agentworker`` with database access.
    CLI = "cli"


class BrokerAuth(enum.StrEnum):
    """How a tenant's messages on the broker are authenticated (``tenants.broker_auth``)."""

    #: The broker's own authentication (Redis ACL users, RabbitMQ users and vhosts) is the
    #: boundary: whoever may publish is trusted. Signed messages are still verified.
    TRUSTED = "trusted"
    #: Every submission must carry a valid HMAC signature made with one of the tenant's keys.
    SIGNED = "signed"


class ApiKey(UUIDPrimaryKey, TenantOwned, CreatedAt, Base):
    """A tenant's service key: shown once when issued, then kept only hashed and encrypted."""

    __tablename__ = "api_keys"
    __table_args__ = (
        CheckConstraint(
            "cardinality(scopes) > 0 AND scopes <@ ARRAY["
            + ", ".join(f"'{scope}'" for scope in API_KEY_SCOPES)
            + "]::varchar[]",
            name="known_scopes",
        ),
    )

    name: Mapped[str] = mapped_column(String(100))
    #: "awk_" and the key's first 8 random characters: unique, and safe to show.
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    #: SHA-256 (hex) of the whole key, for bearer look-up.
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    #: The whole key, encrypted (``worker.security.encryption.SecretBox``): the HMAC secret.
    signing_secret_encrypted: Mapped[bytes] = mapped_column(LargeBinary)
    scopes: Mapped[list[str]] = mapped_column(ARRAY(String(16)))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class UserToken(UUIDPrimaryKey, TenantOwned, CreatedAt, Base):
    """A user's token for scripts, acting as that user in one tenant (their membership's
    role applies). Shown once; kept only as a SHA-256 hash."""

    __tablename__ = "user_tokens"

    user_id: Mapped[uuid.UUID] = fk("users.id", ondelete="CASCADE", nullable=False)
    name: Mapped[str | None] = mapped_column(String(100))
    #: "awu_" and the token's first 8 random characters.
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SubmissionNonce(UUIDPrimaryKey, TenantOwned, Base):
    """A nonce a signed submission used, so the same message cannot be replayed. Rows older
    than the signature window can be purged: a message that old is refused by its timestamp."""

    __tablename__ = "submission_nonces"
    __table_args__ = (
        UniqueConstraint("key_id", "nonce"),
        Index("ix_submission_nonces_seen_at", "seen_at"),
    )

    key_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("api_keys.id", ondelete="CASCADE"), nullable=False
    )
    nonce: Mapped[str] = mapped_column(String(128))
    #: The broker message that used it: a redelivery of that same message is not a replay.
    message_id: Mapped[str | None] = mapped_column(String(255))
    seen_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), nullable=False
    )


__all__ = ["API_KEY_SCOPES", "ApiKey", "BrokerAuth", "SubmissionNonce", "UserToken"]
