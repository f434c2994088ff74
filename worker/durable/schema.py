"""Schema migrations: run Alembic from code and refuse to work on a stale schema.

The configuration is the checkout's ``alembic.ini``, the file the ``alembic`` command reads, so
``agentworker migrate``, the tests and ``alembic upgrade head`` typed in the checkout agree.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

import migrations
from models.db import create_sync_engine
from worker.core.database_roles import RUNTIME_GROUP, RUNTIME_LOGIN
from worker.core.errors import ConfigurationError

MIGRATIONS_DIR = Path(migrations.__file__).parent
ALEMBIC_INI = MIGRATIONS_DIR.parent / "alembic.ini"


class SchemaOutOfDate(ConfigurationError):
    code = "schema_out_of_date"


def alembic_config(url: str | None = None) -> Config:
    """The Alembic configuration of ``alembic.ini``, pointed at ``url`` when given (else
    ``migrations/env.py`` reads ``DATABASE_URL``).

    An installed package (a wheel, the Docker image) has no ``alembic.ini``: it only applies the
    revisions it ships, so the scripts' directory is all it needs.
    """
    if ALEMBIC_INI.is_file():
        config = Config(ALEMBIC_INI)
    else:
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str | None = None, revision: str = "head") -> None:
    """Migrate the database at ``url`` (or ``DATABASE_URL``) to ``revision``."""
    engine = create_sync_engine(url)
    try:
        with engine.begin() as connection:
            config = alembic_config(url)
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        engine.dispose()


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise ConfigurationError(f"no Alembic revisions found in {MIGRATIONS_DIR}")
    return head


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def assert_schema_current(engine: Engine) -> None:
    """Raise ``SchemaOutOfDate`` with the fixing command unless the database is at head."""
    current, head = current_revision(engine), head_revision()
    if current == head:
        return
    known = {rev.revision for rev in ScriptDirectory.from_config(alembic_config()).walk_revisions()}
    if current is not None and current not in known:
        raise SchemaOutOfDate(
            f"database is at revision {current}, which this code does not know (it needs "
            f"{head}): the database was migrated by a newer version; deploy that version"
        )
    raise SchemaOutOfDate(
        f"database is at revision {current or 'none (empty schema)'}, the code needs "
        f"{head}: run `agentworker migrate`"
    )


class PrivilegedRuntimeRole(ConfigurationError):
    code = "privileged_runtime_role"


def assert_runtime_role_confined(engine: Engine) -> None:
    """Refuse a runtime that row-level security would not confine: a superuser, a role with
    BYPASSRLS, or the owner of our tables (the migrating role)."""
    from sqlalchemy import text

    with engine.connect() as connection:
        row = connection.execute(
            text(
                "SELECT r.rolname, r.rolsuper, r.rolbypassrls, "
                "       (SELECT tableowner = current_user FROM pg_tables "
                "         WHERE schemaname = current_schema() AND tablename = 'tasks') AS owner "
                "  FROM pg_roles r WHERE r.rolname = current_user"
            )
        ).one()
    if row.rolsuper or row.rolbypassrls or row.owner:
        why = (
            "is a superuser"
            if row.rolsuper
            else "has BYPASSRLS"
            if row.rolbypassrls
            else "owns the tables"
        )
        raise PrivilegedRuntimeRole(
            f"DATABASE_URL logs in as '{row.rolname}', which {why}, so row-level security would "
            f"not confine this worker to one tenant's rows: give the worker a role that is a "
            f"member of {RUNTIME_GROUP} and nothing more (`CREATE ROLE {RUNTIME_LOGIN} LOGIN "
            f"PASSWORD '…' IN ROLE {RUNTIME_GROUP}`), and run migrations as the owner with "
            "AGENTWORKER_MIGRATION_DATABASE_URL"
        )
