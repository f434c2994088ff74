"""What the transactional output tools share (``outputs``, ``preferences``, ``pipeline``): a
session whose rows commit with the call, turning a refused row into an error for the model;
a 0-1 score as the seed's ``DECIMAL(3,2)``; a tenant member named by email or id."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from models import TenantMembership, User
from worker.agents.tools.specs import ToolContext


@contextmanager
def writing(context: ToolContext, table: str) -> Iterator[Any]:
    """A session whose rows commit with the call; a row the database refuses (a CHECK, a
    foreign key) becomes an error the model can act on."""
    with context.session_factory() as session:
        try:
            yield session
            session.commit()
        except sa.exc.IntegrityError as error:
            session.rollback()
            diag = getattr(error.orig, "diag", None)
            constraint = getattr(diag, "constraint_name", None) or "a constraint"
            detail = (getattr(diag, "message_primary", None) or str(error.orig)).strip()
            raise ValueError(
                f"the database refused the {table} row ({constraint}): {detail}; "
                "nothing was written: correct the arguments and call again"
            ) from None


def as_decimal(value: float) -> Decimal:
    return Decimal(str(round(value, 2)))


def member(session: Any, context: ToolContext, who: str) -> uuid.UUID:
    """The tenant member ``who`` names (an email or a user id)."""
    query = (
        sa.select(User.id)
        .join(TenantMembership, TenantMembership.user_id == User.id)
        .where(TenantMembership.tenant_id == context.tenant_id)
    )
    try:
        query = query.where(User.id == uuid.UUID(who))
    except ValueError:
        query = query.where(sa.func.lower(User.email) == who.strip().lower())
    found = session.scalar(query.where(User.is_active.is_(True)))
    if found is None:
        raise ValueError(f"{who!r} is not an active member of this tenant; name a member")
    return found  # type: ignore[no-any-return]
