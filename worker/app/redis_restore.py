"""A Redis restart must not kill a worker (issue 11's ``make chaos``: both workers died so).

When the connection to Redis drops, the consumer closes its channel, and kombu's Redis QoS
puts back the messages the worker had received (``restore_unacked``). If the channel has
already lost its connection, kombu raises ``AttributeError`` from deep inside (no connection to
read the host from: kombu issues #970, #582), which Celery reports as "Unrecoverable error"
and the worker exits. Nothing is lost by skipping that step: those messages stay in kombu's
unacked index and are handed out again after the visibility timeout (30 s,
``AGENTWORKER_BROKER_VISIBILITY_TIMEOUT_SECONDS``) by any worker's restore sweep.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from kombu.transport import redis

log = logging.getLogger(__name__)


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
