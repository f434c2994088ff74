"""Alembic environment: the schema is what ``models`` says; the database is ``DATABASE_URL``.

Configured by ``alembic.ini`` at the root of the checkout, for ``alembic …`` typed there and for
``worker.durable.schema.alembic_config`` alike. Callers that already hold a connection (the test
fixtures, ``agentworker migrate``) pass it in ``config.attributes["connection"]``.
"""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from alembic.util import CommandError
from sqlalchemy import Connection, pool

import models
from models.db import DatabaseURLMissing, create_sync_engine, database_url

target_metadata = models.Base.metadata


def _configure_logging() -> None:
    """The ``alembic`` command logs as ``alembic.ini`` says; programmatic callers (``agentworker
    migrate``, the tests) keep their own logging, which ``fileConfig`` would replace."""
    config = context.config
    from_command_line = config.cmd_opts is not None and config.config_file_name is not None
    if from_command_line and config.file_config.has_section("loggers"):
        fileConfig(config.config_file_name, disable_existing_loggers=False)


def _url() -> str:
    """The URL set on the Alembic config (``worker.durable.schema.alembic_config``), else
    DATABASE_URL."""
    configured = context.config.get_main_option("sqlalchemy.url")
    try:
        return database_url(configured or None).render_as_string(hide_password=False)
    except DatabaseURLMissing as error:
        raise CommandError(str(error)) from error  # the `alembic` command prints it as FAILED


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


_configure_logging()
if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
