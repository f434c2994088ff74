"""The bench's PostgreSQL database and Redis database: embedded servers it starts, or the ones
``DATABASE_URL`` / ``REDIS_URL`` name (then a database of its own on that server, dropped after,
and one Redis database number, flushed before and after)."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa

from models import db
from tests.bench.procs import BenchError, command_name, cpu_seconds, parent_pid, process_tree_cpu
from worker.dev.services import EmbeddedPostgres, EmbeddedRedis
from worker.durable import schema

DRIVER_APPLICATION = "agentworker-bench"


@dataclass
class Database:
    url: str
    origin: str  # "embedded" or "DATABASE_URL"
    version: str
    engine: sa.Engine  # the driver's own: no pre-ping, so it adds no statements
    statements: bool  # pg_stat_statements is loaded and usable
    statements_note: str
    postmaster_pid: int | None  # set when the server runs on this machine

    def cpu(self) -> float | None:
        return process_tree_cpu(self.postmaster_pid) if self.postmaster_pid else None


def _admin(url: str, *statements: str) -> None:
    engine = db.create_sync_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            for statement in statements:
                connection.execute(sa.text(statement))
    finally:
        engine.dispose()


def _enable_statements(postgres: EmbeddedPostgres) -> None:
    """Preload pg_stat_statements on our own embedded server: ALTER SYSTEM, then restart it
    the way devstack applies its settings."""
    _admin(postgres.url(), "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
    postgres._restart()


def _local_postmaster(engine: sa.Engine) -> int | None:
    with engine.connect() as connection:
        backend = int(connection.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())
    if command_name(backend) != "postgres":
        return None  # the server is not on this machine (or not visible to us)
    postmaster = parent_pid(backend)
    return postmaster if postmaster and command_name(postmaster) == "postgres" else None


@contextlib.contextmanager
def database(tmp: Path, *, statements: bool) -> Iterator[Database]:
    with contextlib.ExitStack() as stack:
        server_url = os.environ.get("DATABASE_URL")
        origin = "DATABASE_URL"
        note = ""
        if not server_url:
            origin = "embedded"
            postgres = EmbeddedPostgres(tmp / "pgdata", ephemeral=True)
            stack.callback(postgres.stop)
            server_url = postgres.start()
            if statements:
                try:
                    _enable_statements(postgres)
                except Exception as error:  # the numbers that need it are skipped, not the run
                    statements, note = False, f"could not preload pg_stat_statements: {error}"
        name = f"agentworker_bench_{os.getpid()}"
        try:
            _admin(server_url, f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"')
        except sa.exc.DBAPIError as error:
            raise BenchError(
                f"cannot create the bench database {name} on {origin}: {error.orig}; "
                "the role in DATABASE_URL needs CREATEDB (or unset DATABASE_URL to use an "
                "embedded PostgreSQL)"
            ) from error
        stack.callback(_admin, server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        url = db.database_url(server_url).set(database=name).render_as_string(hide_password=False)
        schema.upgrade(url)
        if statements:
            try:
                _admin(url, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
                _admin(url, "SELECT pg_stat_statements_reset()")
            except sa.exc.DBAPIError as error:
                statements = False
                note = f"pg_stat_statements is not usable: {str(error.orig).strip()}"
        elif not note:
            note = "disabled by --no-statements"
        engine = db.create_sync_engine(
            url,
            pool_pre_ping=False,
            pool_size=2,
            connect_args={"application_name": DRIVER_APPLICATION},
        )
        stack.callback(engine.dispose)
        with engine.connect() as connection:
            version = str(connection.execute(sa.text("SHOW server_version")).scalar_one())
        yield Database(url, origin, version, engine, statements, note, _local_postmaster(engine))


@dataclass
class Broker:
    url: str
    origin: str
    version: str
    client: Any  # redis.Redis
    pid: int | None

    def cpu(self) -> float | None:
        return cpu_seconds(self.pid) if self.pid else None

    def flush(self) -> None:
        self.client.flushdb()

    def command_counts(self) -> dict[str, int]:
        stats = self.client.info("commandstats")
        return {
            name.removeprefix("cmdstat_"): int(value["calls"])
            for name, value in stats.items()
            if isinstance(value, dict)
        }


@contextlib.contextmanager
def broker(tmp: Path, *, redis_db: int) -> Iterator[Broker]:
    import redis

    with contextlib.ExitStack() as stack:
        external = os.environ.get("REDIS_URL")
        if external:
            origin = f"REDIS_URL, database {redis_db}"
            url = urlsplit(external)._replace(path=f"/{redis_db}").geturl()
        else:
            origin = "embedded"
            server = EmbeddedRedis(tmp / "redis")
            stack.callback(server.stop)
            url = server.start()
        client = redis.Redis.from_url(url)
        stack.callback(client.close)
        client.flushdb()
        stack.callback(client.flushdb)
        info = client.info("server")
        pid = int(info.get("process_id") or 0)
        local = pid and command_name(pid).startswith("redis-server")
        yield Broker(url, origin, str(info.get("redis_version")), client, pid if local else None)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"
