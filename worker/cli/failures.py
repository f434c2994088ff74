"""What the CLI says when it cannot start its work: one line that says what to do, no traceback.

A newcomer's first mistakes are a missing or malformed ``DATABASE_URL``, a PostgreSQL or a
broker that is not running, a setting that does not parse. ``explain`` turns the errors that
mean those into a ``Failure``: a line naming what to set or check (hosts and ports, never a
password) and the exit code the CLI promises, 2 for configuration and 1 for an operation that
failed. It returns ``None`` for anything it does not recognise: that is a bug, and its
traceback is what a bug report needs.

Only ``__cause__`` is followed, outermost error first: an error raised *because of* another is
explained by it, while an error raised *while handling* another is a different problem.

Third-party modules are imported inside the functions, when an error is being explained, so
quick commands such as ``--help`` do not pay for SQLAlchemy or kombu.
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from worker.core.errors import AgentWorkerError, ConfigurationError

#: Exit codes, as the CLI's docstring and the README state them.
CONFIGURATION = 2
FAILED = 1

_DATABASE_HINT = "check that PostgreSQL is running and DATABASE_URL points at it"
_CREDENTIALS_HINT = "check the user, password and database name in DATABASE_URL"
_BROKER_HINT = (
    "check that it is running and REDIS_URL (or CELERY_BROKER_URL) points at it; anything "
    "already saved is re-published by the reaper once the broker is back"
)
_DEFAULT_PORTS = {"postgresql": 5432, "redis": 6379, "rediss": 6379, "amqp": 5672, "amqps": 5671}
_VALID_DATABASE_URL = (
    "DATABASE_URL is not a valid URL: set it to postgresql://user:password@host:5432/db "
    "(percent-encode any special characters in the password)"
)


@dataclass(frozen=True)
class Failure:
    """One line for the person at the terminal, and the exit code that goes with it."""

    message: str
    exit_code: int


def explain(error: BaseException) -> Failure | None:
    """What to tell the person about ``error``, or ``None`` if it is not one we foresaw."""
    for link in _causes(error):
        for reading in _READINGS:
            failure = reading(link)
            if failure is not None:
                return failure
    return None


def describe(error: BaseException) -> str:
    """One line about ``error``: what ``explain`` says, else the first line of its message."""
    failure = explain(error)
    if failure is not None:
        return failure.message
    return _first_line(str(error)) or type(error).__name__


def _causes(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__


def _not_configured(error: BaseException) -> Failure | None:
    if isinstance(error, ConfigurationError) or (
        isinstance(error, AgentWorkerError)
        and error.code in {"configuration", "schema_out_of_date"}
    ):
        return Failure(str(error), CONFIGURATION)
    from models.db import DatabaseURLMissing

    if isinstance(error, DatabaseURLMissing):
        return Failure(str(error), CONFIGURATION)
    if _raised_while_parsing_the_database_url(error):
        # Our own messages name the variable; a parser's may quote a piece of the URL (of its
        # password, perhaps), so it is replaced by one that says what a valid URL looks like.
        ours = "DATABASE_URL" in str(error)
        return Failure(str(error) if ours else _VALID_DATABASE_URL, CONFIGURATION)
    if isinstance(error, ValueError) and _raised_in_module(error, "celeryconfig"):
        # celeryconfig reads its numbers with the standard library only, so it raises
        # ValueError with the variable's name rather than our ConfigurationError.
        return Failure(str(error), CONFIGURATION)
    return None


def _raised_while_parsing_the_database_url(error: BaseException) -> bool:
    from sqlalchemy.exc import ArgumentError

    from models.db import database_url

    if not isinstance(error, ValueError | ArgumentError):
        return False
    return any(
        frame.f_code is database_url.__code__ for frame, _ in traceback.walk_tb(error.__traceback__)
    )


def _raised_in_module(error: BaseException, module: str) -> bool:
    return any(
        frame.f_globals.get("__name__") == module
        for frame, _ in traceback.walk_tb(error.__traceback__)
    )


def _unreachable_database(error: BaseException) -> Failure | None:
    from sqlalchemy import exc

    if not isinstance(error, exc.OperationalError | exc.InterfaceError):
        return None
    # No statement: the connection itself failed. Invalidated: it dropped under a statement.
    if error.statement is not None and not error.connection_invalidated:
        return None
    where, password = _database_address(error.orig)
    reason, refused_by_server = _libpq_reason(str(error.orig))
    from worker.security.redact import redact_text

    reason = redact_text(reason, known_secrets=[password] if password else [])
    if refused_by_server:
        return Failure(
            f"the database at {where} refused the connection ({reason}): {_CREDENTIALS_HINT}",
            FAILED,
        )
    return Failure(f"cannot reach the database at {where} ({reason}): {_DATABASE_HINT}", FAILED)


def _database_address(driver_error: BaseException | None) -> tuple[str, str | None]:
    """(host:port or socket path, password) of the server the driver tried, else DATABASE_URL's."""
    host: str | None = None
    port: str | None = None
    password: str | None = None
    pgconn = getattr(driver_error, "pgconn", None)  # psycopg's, when connecting failed
    if pgconn is not None:
        try:
            host, port = _text(pgconn.host), _text(pgconn.port)
            password = _text(pgconn.password)
        except Exception:  # a connection in a bad state may refuse to tell
            host = port = password = None
    if not host:
        try:
            from models.db import database_url

            url = database_url()
        except Exception:
            return "DATABASE_URL", None
        host = url.host or _query_value(url.query.get("host"))
        port = str(url.port) if url.port else _query_value(url.query.get("port"))
        password = url.password if isinstance(url.password, str) else None
    port = port or str(_DEFAULT_PORTS["postgresql"])
    if not host:
        return f"the default socket (port {port})", password
    if host.startswith("/"):
        return f"{host}/.s.PGSQL.{port}", password
    return _host_port(host, port), password


def _libpq_reason(message: str) -> tuple[str, bool]:
    """The short reason in a libpq connection error, and whether the server itself refused.

    libpq writes e.g. ``connection failed: connection to server at "127.0.0.1", port 9
    failed: Connection refused`` and a hint on the next line; the server's own refusals
    (a wrong password, an unknown database) come as ``... failed: FATAL:  ...``.
    """
    line = _first_line(message)
    for prefix in ("connection failed: ", "connection is bad: "):
        line = line.removeprefix(prefix)
    _, found, tail = line.rpartition(" failed: ")
    reason = " ".join((tail if found else line).split()).rstrip(".")
    reason = re.sub(r"\[Errno -?\d+\] ", "", reason)  # the number says nothing to a person
    refused_by_server = reason.startswith("FATAL:")
    reason = reason.removeprefix("FATAL:").strip()
    return (reason[:1].lower() + reason[1:]) or "no reason given", refused_by_server


def _unreachable_broker(error: BaseException) -> Failure | None:
    from kombu.exceptions import OperationalError
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    if not isinstance(error, OperationalError | RedisConnectionError | RedisTimeoutError):
        return None
    return Failure(
        f"cannot reach the broker at {_broker_address()} ({_network_reason(error)}): "
        f"{_BROKER_HINT}",
        FAILED,
    )


def _broker_address() -> str:
    # The URL every publisher in this process uses: celeryconfig's, which the client's
    # publishing app loads (CELERY_BROKER_URL, else REDIS_URL, else the local default).
    import celeryconfig

    first = str(celeryconfig.broker_url).split(";")[0].strip()
    try:
        parts = urlsplit(first)
        host, port = parts.hostname, parts.port
    except ValueError:
        return "the broker URL"
    if not host:
        return f"{parts.scheme}:// (no host)"
    default = _DEFAULT_PORTS.get(parts.scheme)
    return _host_port(host, str(port or default or ""))


def _network_reason(error: BaseException) -> str:
    """The operating system's words for the failure (``connection refused``), if it gave any."""
    cause: BaseException | None = error
    seen: set[int] = set()
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, OSError) and cause.strerror:
            return cause.strerror[:1].lower() + cause.strerror[1:]
        cause = cause.__cause__ or cause.__context__
    return _first_line(str(error)).rstrip(".") or type(error).__name__


def _operation_failed(error: BaseException) -> Failure | None:
    if isinstance(error, AgentWorkerError):
        return Failure(str(error), FAILED)
    return None


def _host_port(host: str, port: str) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"{shown}:{port}" if port else shown


def _text(value: bytes | str | None) -> str | None:
    if isinstance(value, bytes):
        return value.decode(errors="replace") or None
    return value or None


def _query_value(value: str | tuple[str, ...] | None) -> str | None:
    if isinstance(value, tuple):
        return value[0] if value else None
    return value


def _first_line(text: str) -> str:
    stripped = text.strip()
    return stripped.splitlines()[0].strip() if stripped else ""


#: In order: configuration first (exit 2), then what could not be reached, then our own errors.
_READINGS: tuple[Callable[[BaseException], Failure | None], ...] = (
    _not_configured,
    _unreachable_database,
    _unreachable_broker,
    _operation_failed,
)
