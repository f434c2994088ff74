"""Declarative base, naming convention and the column mixins every model shares.

Conventions that every table follows:
- UUID primary keys, generated in Python (``uuid4``) and by the server (``gen_random_uuid()``).
- ``created_at`` / ``updated_at`` are ``timestamptz`` with server defaults; ``updated_at`` is
  bumped by SQLAlchemy on ORM and Core updates and by a trigger for raw SQL (see the first
  migration).
- Enumerations are stored as text with a named CHECK constraint (``text_enum``), never as
  PostgreSQL enum types, so adding a value is a small migration (widen, swap the CHECK).
- Relationships never load implicitly (``lazy="raise_on_sql"``): load what you need with
  ``selectinload`` / ``joinedload``. This keeps ``AsyncSession`` code free of hidden IO.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

from sqlalchemy import DateTime, Enum, ForeignKey, MetaData, Numeric, func, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column, relationship

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: Relationship loading strategy for every relationship: explicit loads only.
NO_IMPLICIT_IO: Final = "raise_on_sql"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {
        uuid.UUID: UUID(as_uuid=True),
        datetime: DateTime(timezone=True),
        dict[str, Any]: JSONB,
        list[Any]: JSONB,
        Decimal: Numeric(12, 4),
    }


def text_enum(enum_cls: type[enum.Enum], name: str) -> Enum:
    """A text column restricted to ``enum_cls``'s values by a CHECK constraint named ``name``."""
    return Enum(
        enum_cls,
        name=name,
        native_enum=False,
        create_constraint=True,
        validate_strings=True,
        length=max(len(member.value) for member in enum_cls),
        values_callable=lambda cls: [member.value for member in cls],
    )


class UUIDPrimaryKey:
    id: Mapped[uuid.UUID] = mapped_column(
        primary_key=True,
        default=uuid.uuid4,
        server_default=text("gen_random_uuid()"),
        sort_order=-100,
    )


class CreatedAt:
    created_at: Mapped[datetime] = mapped_column(
        server_default=func.now(), nullable=False, sort_order=100
    )


class Timestamps(CreatedAt):
    updated_at: Mapped[datetime] = mapped_column(
        server_default=func.now(), onupdate=func.now(), nullable=False, sort_order=101
    )


class TenantOwned:
    """A row that belongs to exactly one tenant; deleting the tenant deletes the row."""

    @declared_attr
    def tenant(cls) -> Mapped[Any]:
        return relationship("Tenant", lazy=NO_IMPLICIT_IO)

    @declared_attr
    def tenant_id(cls) -> Mapped[uuid.UUID]:
        return mapped_column(
            ForeignKey("tenants.id", ondelete="CASCADE"), nullable=False, index=True, sort_order=-99
        )


class TenantOrShared:
    """A row that belongs to one tenant, or to every tenant when ``tenant_id`` is NULL
    (system-wide reference data such as shared agents, templates and settings)."""

    @declared_attr
    def tenant(cls) -> Mapped[Any]:
        return relationship("Tenant", lazy=NO_IMPLICIT_IO)

    @declared_attr
    def tenant_id(cls) -> Mapped[uuid.UUID | None]:
        return mapped_column(
            ForeignKey("tenants.id", ondelete="CASCADE"), nullable=True, index=True, sort_order=-99
        )


def fk(target: str, *, ondelete: str, nullable: bool, index: bool = True) -> Any:
    """A UUID foreign key column with an explicit ON DELETE rule (the seeds always name one)."""
    return mapped_column(ForeignKey(target, ondelete=ondelete), nullable=nullable, index=index)
