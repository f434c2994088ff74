"""Engines and session factories from ``DATABASE_URL`` (psycopg 3 for sync and async).

Nothing is created at import time: callers build an engine when they start and dispose of it
when they stop.
"""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import URL, Engine, create_engine, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session, sessionmaker

# Imported for its effect: every transaction on any engine sets its tenant for row-level
# security (see models/tenant_scope.py).
import models.tenant_scope  # noqa: F401


class DatabaseURLMissing(RuntimeError):
    pass


def database_url(url: str | URL | None = None) -> URL:
    """The SQLAlchemy URL for psycopg 3, from ``url`` or the ``DATABASE_URL`` variable.

    Plain ``postgresql://`` and ``postgres://`` URLs (as libpq and most hosts give them) are
    accepted and pointed at the psycopg driver.
    """
    raw = url if url is not None else os.environ.get("DATABASE_URL")
    if not raw:
        raise DatabaseURLMissing(
            "DATABASE_URL is not set: export DATABASE_URL=postgresql://user:pass@host/db, "
            "or run `agentworker dev` / `make demo`, which start an embedded PostgreSQL"
        )
    parsed = make_url(raw) if isinstance(raw, str) else raw
    if parsed.drivername in ("postgresql", "postgres", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername != "postgresql+psycopg":
        raise ValueError(
            f"DATABASE_URL uses {parsed.drivername!r}; agentworker needs PostgreSQL through "
            "psycopg 3: use a postgresql:// or postgresql+psycopg:// URL"
        )
    return parsed


def create_sync_engine(url: str | URL | None = None, **options: Any) -> Engine:
    options.setdefault("pool_pre_ping", True)
    return create_engine(database_url(url), **options)


def create_async_db_engine(url: str | URL | None = None, **options: Any) -> AsyncEngine:
    options.setdefault("pool_pre_ping", True)
    return create_async_engine(database_url(url), **options)


def sync_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def async_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
