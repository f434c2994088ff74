"""Health checks for operators and container orchestrators (``agentworker health``).

Liveness says the process can import the code and read its settings; readiness says the
deployment can do work: the broker answers, the database answers and is at the code's schema
revision, an LLM provider is configured (the environment's, or an active ai_models row; the
worker refuses to start on the same check), and (unless told otherwise) at least one worker
answers a ping. Every check returns a
small frozen ``Check``; none raises. URLs in what they report never show a password.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import SplitResult, urlsplit

from sqlalchemy import exc as sa_exc
from sqlalchemy.pool import NullPool

from worker.core.errors import ConfigurationError
from worker.core.settings import Settings
from worker.durable.publishing import publishing_app
from worker.llm.providers import (
    NoProviderConfigured,
    active_provider_rows,
    describe_environment_provider,
)
from worker.ops import liveness
from worker.security.redact import redact_text

__all__ = [
    "Check",
    "Readiness",
    "check_broker",
    "check_database",
    "check_liveness",
    "check_provider",
    "check_readiness",
    "check_worker",
    "check_worker_liveness",
    "redact_url",
]

DEFAULT_TIMEOUT_SECONDS = 5.0
MASK = "***"


@dataclass(frozen=True)
class Check:
    """One check's outcome. ``detail`` is what was checked when ``ok``, else the reason and
    what to do; ``configuration`` marks a failure that only a configuration change fixes."""

    name: str
    ok: bool
    detail: str
    configuration: bool = False


@dataclass(frozen=True)
class Readiness:
    checks: tuple[Check, ...]

    @property
    def ready(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def misconfigured(self) -> bool:
        return any(check.configuration for check in self.checks)


def redact_url(url: str) -> str:
    """``url`` with its password (if any) replaced by ``***``."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:
        return redact_text(url)
    if not password:
        return url
    userinfo, _, hostinfo = parts.netloc.rpartition("@")
    user = userinfo.partition(":")[0]
    return SplitResult(
        parts.scheme, f"{user}:{MASK}@{hostinfo}", parts.path, parts.query, parts.fragment
    ).geturl()


def _reason(error: BaseException, url: str) -> str:
    """One line of ``error``'s message, without the password of ``url``."""
    cause = getattr(error, "orig", None) or error
    text = " ".join(str(cause).split()).rstrip(".") or type(cause).__name__
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    return redact_text(text, known_secrets=[password] if password else [])


def check_liveness(task_modules: Sequence[str]) -> Check:
    """The process can read its settings, load the Celery configuration and import the tasks."""
    try:
        Settings.from_env()
        # Reading a setting loads celeryconfig, which validates its numbers.
        broker_url = str(publishing_app().conf.broker_url)
    except (ConfigurationError, ValueError) as error:
        return Check("process", False, f"invalid configuration: {error}", configuration=True)
    try:
        for module in task_modules:
            importlib.import_module(module)
    except Exception as error:
        return Check("process", False, f"cannot import {module}: {type(error).__name__}: {error}")
    imported = f"{len(task_modules)} task modules imported"
    return Check("process", True, f"settings read, {imported}, broker {redact_url(broker_url)}")


def check_broker(broker_url: str | None, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> Check:
    """Connect to the broker (``None``: Celery's configured default) and disconnect."""
    app = publishing_app(broker_url)
    url = str(app.conf.broker_url)
    shown = redact_url(url)
    try:
        with app.connection_for_write(connect_timeout=timeout) as connection:
            connection.ensure_connection(
                max_retries=1, interval_start=min(1.0, timeout / 4), timeout=timeout
            )
    except (KeyError, ImportError, ValueError) as error:
        return Check(
            "broker",
            False,
            f"cannot use broker URL {shown} ({_reason(error, url)}): set REDIS_URL (or "
            "CELERY_BROKER_URL) to a redis:// or amqp:// URL",
            configuration=True,
        )
    except Exception as error:
        return Check(
            "broker",
            False,
            f"cannot connect to {shown}: {_reason(error, url)}; check that the broker is "
            "running and REDIS_URL (or CELERY_BROKER_URL) points at it",
        )
    finally:
        app.close()
    return Check("broker", True, shown)


def check_database(database_url: str | None, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> Check:
    """Connect to the database and compare its schema revision with the code's."""
    from models.db import DatabaseURLMissing, create_sync_engine
    from models.db import database_url as parse_database_url
    from worker.durable.schema import SchemaOutOfDate, assert_schema_current, head_revision

    if not database_url:
        return Check(
            "database",
            False,
            "DATABASE_URL is not set: export DATABASE_URL=postgresql://user:pass@host/db",
            configuration=True,
        )
    try:
        parse_database_url(database_url)
        shown = redact_url(database_url)
        engine = create_sync_engine(
            database_url,
            poolclass=NullPool,
            connect_args={"connect_timeout": max(1, math.ceil(timeout))},
        )
    except (DatabaseURLMissing, ValueError, sa_exc.ArgumentError) as error:
        return Check(
            "database",
            False,
            f"invalid DATABASE_URL: {_reason(error, database_url)}",
            configuration=True,
        )
    try:
        assert_schema_current(engine)
    except SchemaOutOfDate as error:
        return Check("database", False, f"{shown}: {error}")
    except (sa_exc.SQLAlchemyError, OSError) as error:
        return Check(
            "database",
            False,
            f"cannot reach {shown}: {_reason(error, database_url)}; check that PostgreSQL is "
            "running and DATABASE_URL points at it",
        )
    finally:
        engine.dispose()
    return Check("database", True, f"{shown} at revision {head_revision()}")


def check_provider(
    settings: Settings,
    *,
    database: Check | None = None,
    timeout: float = DEFAULT_TIMEOUT_SECONDS,
) -> Check:
    """An LLM call could go somewhere: the environment names a provider, or (read from the
    database, unless ``database`` says it failed) an active ai_models row exists. A missing
    provider is a configuration failure whose detail says which variable to set."""
    try:
        return Check("provider", True, describe_environment_provider(settings))
    except NoProviderConfigured as error:
        missing = error
    if settings.local_llm or not settings.database_url:
        return Check("provider", False, str(missing), configuration=True)
    if database is not None and not database.ok:
        return Check(
            "provider",
            False,
            "not checked: OPENAI_API_KEY / OPENAI_BASE_URL are unset and the database's "
            "ai_models rows cannot be read until the database check passes",
        )
    try:
        rows = _count_provider_rows(settings.database_url, timeout)
    except (sa_exc.SQLAlchemyError, OSError, ValueError) as error:
        return Check(
            "provider",
            False,
            "not checked: OPENAI_API_KEY / OPENAI_BASE_URL are unset and the database's "
            f"ai_models rows could not be read ({_reason(error, settings.database_url)})",
        )
    if rows == 0:
        return Check("provider", False, str(missing), configuration=True)
    return Check(
        "provider",
        True,
        f"{rows} active ai_models row{'' if rows == 1 else 's'} (OPENAI_API_KEY / "
        "OPENAI_BASE_URL unset: a tenant without a row of its own fails no_provider)",
    )


def _count_provider_rows(database_url: str, timeout: float) -> int:
    from models.db import create_sync_engine

    engine = create_sync_engine(
        database_url,
        poolclass=NullPool,
        connect_args={"connect_timeout": max(1, math.ceil(timeout))},
    )
    try:
        with engine.connect() as connection:
            return active_provider_rows(connection)
    finally:
        engine.dispose()


def check_worker(broker_url: str | None, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> Check:
    """At least one worker on the broker answers a ping within ``timeout`` seconds."""
    app = publishing_app(broker_url)
    try:
        # limit=1: the first answer is enough, so a healthy deployment answers at once.
        replies = app.control.ping(timeout=timeout, limit=1)
    except Exception as error:
        url = str(app.conf.broker_url)
        return Check(
            "worker", False, f"cannot ping workers through {redact_url(url)}: {_reason(error, url)}"
        )
    finally:
        app.close()
    names = sorted(name for reply in replies for name in reply)
    if not names:
        return Check(
            "worker",
            False,
            f"no worker answered a ping within {timeout:g}s: start one with `agentworker worker`",
        )
    return Check("worker", True, f"{', '.join(names)} answered a ping")


def check_readiness(
    settings: Settings, *, worker: bool = True, timeout: float = DEFAULT_TIMEOUT_SECONDS
) -> Readiness:
    """Broker, database, LLM provider and (if ``worker``) a worker's ping, each with its own
    ``timeout``."""
    broker = check_broker(settings.broker_url, timeout)
    database = check_database(settings.database_url, timeout)
    checks = [broker, database, check_provider(settings, database=database, timeout=timeout)]
    if worker:
        checks.append(
            check_worker(settings.broker_url, timeout)
            if broker.ok
            else Check("worker", False, "not checked: the broker is unreachable")
        )
    return Readiness(tuple(checks))


def check_worker_liveness(settings: Settings) -> Check:
    """This host's worker processes show life: consumer loop and lease heartbeat marks fresh
    (``worker.ops.liveness``)."""
    alive = liveness.check(Path(settings.liveness_dir), settings.liveness_max_age_seconds)
    return Check("worker process", alive.ok, alive.detail)
