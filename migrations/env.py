"""Alembic environment: the schema is what ``models`` says; the database is ``DATABASE_URL``.

Callers that already hold a connection (the test fixtures, ``agentworker migrate``) pass it in
``config.attributes["connection"]``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, pool

import models
from models.db import create_sync_engine, database_url

target_metadata = models.Base.metadata


def _url() -> str:
    """The URL set on the Alembic config (``worker.durable.schema.alembic_config``), else
    DATABASE_URL."""
    configured = context.config.get_main_option("sqlalchemy.url")
    return database_url(configured or None).render_as_string(hide_password=False)


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        compare_server_default=True,
        transaction_per_migration=True,
    )


def run_migrations_offline() -> None:
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_sync_engine(_url(), poolclass=pool.NullPool)
    try:
        with engine.connect() as conn:
            _configure(conn)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
