"""Which tenant (and user) a unit of work acts for, as PostgreSQL's row-level security sees it.

Every table with a ``tenant_id`` has a policy comparing it with the ``app.tenant_id`` setting
(migration 0007). Code states its tenant once, around a unit of work::

    with tenant_scope(tenant_id):
        with engine.begin() as connection:   # sees and writes only that tenant's rows
            ...

and every transaction begun inside it, on any engine of this process, first sets
``app.tenant_id`` for that transaction only (``set_config(…, true)``), so a pooled connection
never carries one tenant's setting into another's work. Outside any scope nothing is set, and
the policies show no rows at all: a query written without its tenant fails closed.

A connection in autocommit mode has no transaction to scope the setting to; it gets the
setting for its session instead, and the setting is cleared when the connection goes back to
the pool.
"""

from __future__ import annotations

import contextlib
import contextvars
import uuid
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.pool import Pool

TENANT_SETTING = "app.tenant_id"
USER_SETTING = "app.user_id"

_tenant: contextvars.ContextVar[uuid.UUID | None] = contextvars.ContextVar(
    "agentworker_tenant", default=None
)
_user: contextvars.ContextVar[uuid.UUID | None] = contextvars.ContextVar(
    "agentworker_user", default=None
)
_SESSION_KEY = "agentworker_session_scope"
_SET = "SELECT set_config(%s, %s, %s), set_config(%s, %s, %s)"


@contextlib.contextmanager
def tenant_scope(
    tenant_id: uuid.UUID | str | None, *, user_id: uuid.UUID | str | None = None
) -> Iterator[None]:
    """Run the block as ``tenant_id`` (and, for the per-user policies, ``user_id``).

    Scopes nest; ``None`` states "no tenant" explicitly (nothing tenant-owned is visible).
    """
    tenant_token = _tenant.set(_as_uuid(tenant_id))
    user_token = _user.set(_as_uuid(user_id))
    try:
        yield
    finally:
        _user.reset(user_token)
        _tenant.reset(tenant_token)


def current_tenant() -> uuid.UUID | None:
    return _tenant.get()


def current_user() -> uuid.UUID | None:
    return _user.get()


def _as_uuid(value: uuid.UUID | str | None) -> uuid.UUID | None:
    if value is None or isinstance(value, uuid.UUID):
        return value
    return uuid.UUID(str(value))


def _scope_values() -> tuple[str, str]:
    tenant, user = _tenant.get(), _user.get()
    return (str(tenant) if tenant else "", str(user) if user else "")


@event.listens_for(sa.Engine, "begin")
def _set_scope_for_transaction(connection: sa.Connection) -> None:
    pooled = connection.connection
    dbapi = pooled.dbapi_connection
    if dbapi is None:
        return
    values = _scope_values()
    session_values = pooled.info.get(_SESSION_KEY, ("", ""))
    if getattr(dbapi, "autocommit", False):
        if session_values != values:
            _execute(dbapi, values, local=False)
            pooled.info[_SESSION_KEY] = values
    elif values != ("", "") or session_values != ("", ""):
        if session_values != ("", ""):
            _execute(dbapi, ("", ""), local=False)
            pooled.info[_SESSION_KEY] = ("", "")
        _execute(dbapi, values, local=True)


@event.listens_for(Pool, "checkin")
def _clear_session_scope(dbapi: Any, record: Any) -> None:
    if dbapi is None or record.info.get(_SESSION_KEY, ("", "")) == ("", ""):
        return
    try:
        _execute(dbapi, ("", ""), local=False)
        record.info[_SESSION_KEY] = ("", "")
    except sa.exc.DBAPIError:
        record.invalidate()  # a connection whose scope cannot be cleared is not reused


def _execute(dbapi: Any, values: tuple[str, str], *, local: bool) -> None:
    # Straight on the driver's connection: a statement through SQLAlchemy here would begin
    # the transaction that is being begun.
    params = (TENANT_SETTING, values[0], local, USER_SETTING, values[1], local)
    try:
        cursor = dbapi.cursor()  # a cursor: the async drivers' adapted connections have one too
        try:
            cursor.execute(_SET, params)
        finally:
            cursor.close()
        if not local and not getattr(dbapi, "autocommit", False):
            dbapi.commit()  # a session-level setting made in a transaction lasts once committed
    except Exception as error:
        raise sa.exc.DBAPIError.instance(
            _SET, params, error, _driver_error_base(error), connection_invalidated=False
        ) from error


def _driver_error_base(error: Exception) -> type[Exception]:
    import psycopg

    return psycopg.Error if isinstance(error, psycopg.Error) else Exception


def scope_transaction(
    connection: sa.Connection, tenant_id: uuid.UUID | None, *, user_id: uuid.UUID | None = None
) -> None:
    """Scope the rest of ``connection``'s current transaction to ``tenant_id``: for code that
    learns its tenant inside a transaction (a submission naming its tenant by slug)."""
    connection.execute(
        sa.text("SELECT set_config(:t, :tv, true), set_config(:u, :uv, true)"),
        {
            "t": TENANT_SETTING,
            "tv": str(tenant_id) if tenant_id else "",
            "u": USER_SETTING,
            "uv": str(user_id) if user_id else "",
        },
    )
