"""Dead letters: a message that no handler could turn into a task row is still recorded.

A message whose kwargs are not an object, that carries positional arguments, names a task we
do not have, or whose handling raised (a NUL byte PostgreSQL refuses, input nested thousands
deep, an id that is not one) is acked and kept as an ``ai_error_logs`` row of type
``message.*``: the task name, the broker message id, the error, and the body with secrets
redacted and made storable, so an operator can list it and send it again
(``agentworker dead-letters``, ``worker.app.redrive``). ``body_intact`` says whether the kept
body is the message as received (nothing redacted, cut or changed to be storable): only then
can it be sent again. Recording never raises: a worker must not die of a message it cannot even
record.
"""

from __future__ import annotations

import functools
import logging
import math
import time
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from celery.utils.saferepr import saferepr
from sqlalchemy.pool import NullPool

from models import ErrorSeverity
from worker.core.tenants import tenant_named_by
from worker.durable import records
from worker.security.redact import scrub, scrub_text

log = logging.getLogger(__name__)

#: Deeper than this, a body is kept as (truncated) text instead of JSON.
_MAX_DEPTH = 64
_MAX_TEXT = 16_000


def record_dead_letter(
    *, task: str, message_id: str | None, args: Any, kwargs: Any, kind: str, error: str
) -> None:
    """Keep a message that could not be handled, redacted, in ``ai_error_logs``."""
    from worker.app.process import process_runtime  # the worker's own engine, built once

    try:
        engine = process_runtime().engine
    except Exception:
        # The runtime itself could not be built (an import that fails, a tool module that
        # raises): the very failure this message died of, so the dead letter must not need
        # it. Without it the message was acked and kept nowhere (make chaos: "lost: foreign
        # job chaos-120: no task row"). A plain engine on the same database keeps it.
        log.warning(
            "the worker's runtime is unavailable; the dead letter of %s is kept without it",
            message_id,
            exc_info=True,
        )
        try:
            engine = _standalone_engine()
        except Exception:
            log.exception("could not record the dead letter of message %s (%s)", message_id, task)
            return
    keep_dead_letter(
        engine, task=task, message_id=message_id, args=args, kwargs=kwargs, kind=kind, error=error
    )


@functools.cache
def _standalone_engine() -> sa.Engine:
    """An engine on the worker's database that needs nothing but its settings."""
    from models.db import create_sync_engine
    from worker.core.settings import get_settings

    return create_sync_engine(get_settings().database_url, poolclass=NullPool)


def keep_dead_letter(
    engine: sa.Engine,
    *,
    task: str,
    message_id: str | None,
    args: Any,
    kwargs: Any,
    kind: str,
    error: str,
    patience_seconds: float = 120.0,
) -> None:
    """Write the dead letter; while the database is unreachable (a restart), try again for
    ``patience_seconds``: the message is acked once this returns, so giving up loses it."""
    body, intact = dead_letter_body(args, kwargs)
    give_up_at = time.monotonic() + patience_seconds
    pause = 0.5
    while True:
        try:
            _write(engine, task, message_id, kwargs, kind, error, body, intact)
            return
        except (sa.exc.OperationalError, sa.exc.InterfaceError):
            if time.monotonic() + pause > give_up_at:
                log.exception(
                    "could not record the dead letter of message %s (%s)", message_id, task
                )
                return
            log.warning(
                "database unreachable; the dead letter of %s waits %.1f s", message_id, pause
            )
            time.sleep(pause)
            pause = min(pause * 2, 5.0)
        except Exception:
            log.exception("could not record the dead letter of message %s (%s)", message_id, task)
            return


def _write(
    engine: sa.Engine,
    task: str,
    message_id: str | None,
    kwargs: Any,
    kind: str,
    error: str,
    body: dict[str, Any],
    intact: bool,
) -> None:
    with engine.begin() as connection:
        tenant_id = tenant_named_by(connection, kwargs) if isinstance(kwargs, Mapping) else None
        records.write(
            connection,
            errors=[
                records.error_log(
                    records.Scope(tenant_id=tenant_id),
                    error_type=f"message.{kind}",
                    message=_text(scrub_text(f"{task}: {error}")),
                    severity=ErrorSeverity.HIGH,
                    context={
                        "task": task,
                        "broker_message_id": message_id,
                        "body": body,
                        "body_intact": intact,
                    },
                )
            ],
        )


def dead_letter_body(args: Any, kwargs: Any) -> tuple[dict[str, Any], bool]:
    """The body to keep (redacted, storable) and whether it is the message as received."""
    try:
        body = {"args": _storable(scrub(args)), "kwargs": _storable(scrub(kwargs))}
    except RecursionError:
        return {"text": _text(saferepr([args, kwargs], maxlevels=8))}, False
    received = {"args": list(args) if isinstance(args, tuple) else args, "kwargs": kwargs}
    try:
        # NaN != NaN, so a body with NaN (kept as text) is rightly not intact.
        return body, body == received
    except RecursionError:
        return body, False


def _storable(value: Any, depth: int = 0) -> Any:
    """``value`` as JSON PostgreSQL accepts: no NUL characters or lone surrogates in text, no
    NaN, and no deeper than ``_MAX_DEPTH`` (the rest as a marker)."""
    if depth > _MAX_DEPTH:
        return "…(nested too deep to keep)"
    if isinstance(value, str):
        return _text(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # NaN and infinities are not JSON
    if isinstance(value, Mapping):
        return {_text(str(key)): _storable(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_storable(item, depth + 1) for item in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return _text(saferepr(value))


def _text(text: str) -> str:
    safe = text.replace("\x00", "\\u0000").encode("utf-8", "backslashreplace").decode("utf-8")
    return safe if len(safe) <= _MAX_TEXT else safe[:_MAX_TEXT] + "…(truncated)"
