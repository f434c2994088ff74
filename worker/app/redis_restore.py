"""A Redis restart must not kill a worker (issue 11's ``make chaos``: both workers died so).

When the connection to Redis drops, the consumer closes its channel, and kombu's Redis QoS
puts back the messages the worker had received (``restore_unacked``). If the channel has
already lost its connection, kombu raises ``AttributeError`` from deep inside (no connection to
read the host from: kombu issues #970, #582), which Celery reports as "Unrecoverable error"
and the worker exits. Nothing is lost by skipping that step: those messages stay in kombu's
unacked index and are handed out again after the visibility timeout (30 s,
``AGENTWORKER_BROKER_VISIBILITY_TIMEOUT_SECONDS``) by any worker's restore sweep.

The other way round is the dangerous one: kombu takes a message off its queue (BRPOP) and only
then records it as unacked (``QoS.append``: ZADD + HSET). If Redis stops between the two, the
append raises, the consumer reconnects, and the message is neither queued nor unacked: it
existed only in this process's memory, and was gone. A job with a row is re-published by the
reaper; a foreign job (a bare ``send_task`` with the whole request) has no row until a worker
commits one, so it was lost (``make chaos``: "lost: foreign job chaos-59: no task row", at the
Redis restart). So the append waits for Redis (``APPEND_PATIENCE_SECONDS``) before it gives
up: the consumer's thread blocks, which costs nothing while Redis is down anyway.

The workers' consumers no longer have that gap (worker/app/lossless_redis.py takes a message
and records it in one step); the patience is kept for ``basic_get``, which still pops first.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from typing import Any

from kombu.transport import redis

log = logging.getLogger(__name__)

#: How long recording a received message as unacked waits for an unreachable Redis (a restart
#: takes seconds) before it gives up, and the message is lost with an error in the log. The
#: consumer's thread blocks meanwhile, so this stays well under the liveness probe's 60 s
#: (``AGENTWORKER_LIVENESS_MAX_AGE_SECONDS``: the consumer's mark is touched by its heartbeat).
APPEND_PATIENCE_SECONDS = 30.0


def survive_restore_without_connection() -> None:
    """Make Redis's ``restore_unacked``, ``ack`` and ``reject`` log instead of raise when the
    connection is gone."""
    original: Callable[..., Any] = redis.QoS.restore_unacked
    if getattr(original, "_survives_lost_connection", False):
        return

    @functools.wraps(original)
    def restore_unacked(self: Any, client: Any = None) -> None:
        try:
            original(self, client)
        except (AttributeError, *self.channel.connection_errors) as error:
            log.warning(
                "could not put back %d received message(s) while Redis was unreachable (%s); "
                "they are handed out again after the visibility timeout",
                len(self._delivered),
                error,
            )

    restore_unacked._survives_lost_connection = True  # type: ignore[attr-defined]
    redis.QoS.restore_unacked = restore_unacked  # type: ignore[method-assign]
    redis.QoS.append = _append_until_recorded(redis.QoS.append)  # type: ignore[method-assign]
    redis.QoS.ack = _survive_lost_connection(redis.QoS.ack, "ack")  # type: ignore[method-assign]
    redis.QoS.reject = _survive_lost_connection(  # type: ignore[method-assign]
        redis.QoS.reject, "reject"
    )


def _survive_lost_connection(original: Callable[..., Any], what: str) -> Callable[..., Any]:
    """An ack (or reject) sent to a channel whose connection a Redis restart closed: kombu
    raises ``AttributeError`` (the channel's connection is None), which Celery reports as
    "Unrecoverable error". The message stays in the unacked index and is handed out again
    after the visibility timeout; a task delivered twice is claimed once."""

    @functools.wraps(original)
    def survive(self: Any, delivery_tag: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return original(self, delivery_tag, *args, **kwargs)
        except AttributeError as error:
            if getattr(self.channel, "connection", None) is not None:
                raise  # not the closed-channel case: a bug to see
            log.warning(
                "could not %s a message: its Redis channel closed (%s); it is handed out again "
                "after the visibility timeout",
                what,
                error,
            )
            return None

    return survive


def _append_until_recorded(original: Callable[..., Any]) -> Callable[..., Any]:
    """``QoS.append`` that retries while Redis is unreachable: the message it records was
    already taken off its queue, so until it is in the unacked index it exists nowhere else."""

    @functools.wraps(original)
    def append(self: Any, message: Any, delivery_tag: Any) -> Any:
        deadline = time.monotonic() + APPEND_PATIENCE_SECONDS
        delay = 0.05
        waited = False
        while True:
            try:
                result = original(self, message, delivery_tag)
            except self.channel.connection_errors as error:
                if time.monotonic() >= deadline:
                    log.error(
                        "message %s (%s) was taken off its queue but Redis stayed unreachable "
                        "for %.0f s, so it could not be recorded as unacked: it is lost (%s)",
                        delivery_tag,
                        _task_name(message),
                        APPEND_PATIENCE_SECONDS,
                        error,
                    )
                    raise
                if not waited:
                    log.warning(
                        "message %s (%s) was taken off its queue as Redis went away (%s); "
                        "waiting for Redis to record it as unacked",
                        delivery_tag,
                        _task_name(message),
                        error,
                    )
                    waited = True
                time.sleep(delay)
                delay = min(1.0, delay * 2)
                continue
            if waited:
                log.warning("message %s recorded as unacked once Redis was back", delivery_tag)
            return result

    append._survives_lost_connection = True  # type: ignore[attr-defined]
    return append


def _task_name(message: Any) -> str:
    headers = getattr(message, "headers", None) or {}
    return str(headers.get("task", "?"))
