"""Tenants, users and who may do what in which tenant (seeds 000, 001, 003)."""

from __future__ import annotations

import enum
import uuid
from typing import Any

from sqlalchemy import Boolean, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from models.base import NO_IMPLICIT_IO, Base, Timestamps, UUIDPrimaryKey, fk, text_enum
from models.principals import BrokerAuth


class MembershipRole(enum.StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    APPROVER = "approver"
    MEMBER = "member"


class Tenant(UUIDPrimaryKey, Timestamps, Base):
    """An isolated customer account. Its API key is stored only as a SHA-256 hash."""

    __tablename__ = "tenants"

    name: Mapped[str] = mapped_column(String(255), index=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    #: The tenant's legacy key (seed 003): SHA-256 hex of a key that authenticates as a
    #: bearer exactly like an ``api_keys`` key with every scope (``worker.security.api_keys``).
    #: New keys go in ``api_keys`` (named, scoped, expiring, revocable).
    api_key_hash: Mapped[str | None] = mapped_column(String(128), unique=True)
    #: How its broker messages are authenticated: ``trusted`` or ``signed`` (``BrokerAuth``).
    broker_auth: Mapped[BrokerAuth] = mapped_column(
        text_enum(BrokerAuth, "broker_auth"),
        default=BrokerAuth.TRUSTED,
        server_default=BrokerAuth.TRUSTED.value,
    )
    provider_configs: Mapped[dict[str, Any]] = mapped_column(
        default=dict, server_default=text("'{}'::jsonb")
    )
    is_active: Mapped[bool] = mapped_column(
        Boolean, default=True, server_default=text("true"), index=True
    )
    metadata_: Mapped[dict[str, Any]] = mapped_column(
        "metadata", default=dict, server_default=text("'{}'::jsonb")
    )

    memberships: Mapped[list[TenantMembership]] = relationship(
        back_populates="tenant",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy=NO_IMPLICIT_IO,
    )


class User(UUIDPrimaryKey, Timestamps, Base):
    """A person's identity. Users are global; what they may do in a tenant is a membership."""

    __tablename__ = "users"

    email: Mapped[str] = mapped_column(String(320), unique=True)
    full_name: Mapped[str | None] = mapped_column(String(255))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    is_superuser: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    metadata_: Mapped[dict[str, Any]] = mapped_column(
        "metadata", default=dict, server_default=text("'{}'::jsonb")
    )

    memberships: Mapped[list[TenantMembership]] = relationship(
        back_populates="user",
        cascade="all, delete-orphan",
        passive_deletes=True,
        lazy=NO_IMPLICIT_IO,
    )


class TenantMembership(UUIDPrimaryKey, Timestamps, Base):
    """A user's role in one tenant (seed 001's account_users)."""

    __tablename__ = "tenant_memberships"
    __table_args__ = (UniqueConstraint("tenant_id", "user_id"),)

    tenant_id: Mapped[uuid.UUID] = fk("tenants.id", ondelete="CASCADE", nullable=False)
    user_id: Mapped[uuid.UUID] = fk("users.id", ondelete="CASCADE", nullable=False)
    role: Mapped[MembershipRole] = mapped_column(
        text_enum(MembershipRole, "membership_role"), default=MembershipRole.MEMBER
    )

    tenant: Mapped[Tenant] = relationship(back_populates="memberships", lazy=NO_IMPLICIT_IO)
    user: Mapped[User] = relationship(back_populates="memberships", lazy=NO_IMPLICIT_IO)
