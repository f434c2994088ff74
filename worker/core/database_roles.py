"""The database roles a deployment has: the tables' owner, and the worker's runtime role.

Migration 0007 grants the runtime's privileges (rows, never the schema) to the group role
``agentworker_runtime``; the worker logs in as a member of it, which row-level security
confines to one tenant per transaction. The embedded default, the tests and
``agentworker migrate --runtime-login`` create that login role with this.
"""

from __future__ import annotations

from models.db import create_sync_engine, database_url

#: The group role migration 0007 grants the runtime's privileges to; the worker's login role is
#: a member of it.
RUNTIME_GROUP = "agentworker_runtime"
#: The login role the embedded default and docker-compose.yml create for the worker.
RUNTIME_LOGIN = "agentworker_app"


def ensure_runtime_login(owner_url: str, login: str = RUNTIME_LOGIN, password: str = "") -> str:
    """Create (once) the runtime's login role as a member of ``agentworker_runtime`` on the
    server at ``owner_url`` (a superuser's URL), and return ``owner_url`` logged in as it."""
    from sqlalchemy import text

    engine = create_sync_engine(owner_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            for role, options in ((RUNTIME_GROUP, "NOLOGIN"), (login, "LOGIN")):
                exists = connection.execute(
                    text("SELECT 1 FROM pg_roles WHERE rolname = :role"), {"role": role}
                ).first()
                if not exists:
                    connection.exec_driver_sql(
                        f'CREATE ROLE "{role}" {options} NOSUPERUSER NOBYPASSRLS NOCREATEDB'
                    )
            if password:
                statement = connection.execute(
                    text("SELECT format('ALTER ROLE %I PASSWORD %L', :role, :password)"),
                    {"role": login, "password": password},
                ).scalar_one()
                connection.exec_driver_sql(statement)
            connection.exec_driver_sql(f'GRANT "{RUNTIME_GROUP}" TO "{login}"')
    finally:
        engine.dispose()
    url = database_url(owner_url).set(username=login, password=password or None)
    return url.render_as_string(hide_password=False)
