"""Keeping the messages a live worker holds out of Redis's redelivery.

With Redis, a message a worker has received but not acked (late acks: until its task returns;
a countdown: until it is due) sits in kombu's unacked index, scored with the time it was
delivered, and any worker hands it out again once it is older than the visibility timeout.
That is how the message of a worker that died comes back, so the timeout is short (celeryconfig:
``AGENTWORKER_BROKER_VISIBILITY_TIMEOUT_SECONDS``). So that a task running longer than that is
not handed out again, every worker re-scores the messages it holds every third of the timeout;
a dead worker stops, and its messages come back one timeout after its last renewal.

RabbitMQ needs none of this: it returns a delivery when its consumer's connection drops.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from celery import bootsteps
from celery.worker import state

log = logging.getLogger(__name__)


def renew_interval(visibility_timeout: float) -> float:
    """How often a worker renews what it holds: a missed renewal or two is not yet fatal."""
    return max(0.5, visibility_timeout / 3)


def held_delivery_tags() -> set[str]:
    """The delivery tags of every message this worker holds: running, waiting for a free slot
    or for its countdown."""
    for _ in range(5):  # the pool's threads add and remove requests meanwhile
        try:
            requests = [
                *list(state.reserved_requests),
                *list(state.active_requests),
                *list(state.scheduled_requests),
            ]
            break
        except RuntimeError:
            continue
    else:
        return set()
    tags = {getattr(request.message, "delivery_tag", None) for request in requests}
    return {str(tag) for tag in tags if tag}


class VisibilityKeepAlive(bootsteps.StartStopStep):  # type: ignore[misc]
    """A consumer step: on a Redis broker, renew the held messages' unacked scores on the
    consumer's timer (the event loop's thread, which owns the broker channel)."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self._timer_entry: Any = None

    def start(self, consumer: Any) -> None:
        if consumer.connection is None:
            return
        if consumer.connection.transport.driver_type != "redis":  # redis, rediss, sentinel
            return
        options = consumer.app.conf.broker_transport_options or {}
        timeout = float(options.get("visibility_timeout", 3600))
        self._timer_entry = consumer.timer.call_repeatedly(
            renew_interval(timeout), self.renew, (consumer,), priority=10
        )

    def stop(self, consumer: Any) -> None:
        if self._timer_entry is not None:
            self._timer_entry.cancel()
            self._timer_entry = None

    shutdown = stop

    def renew(self, consumer: Any) -> int:
        """Re-score the held messages that are still in the unacked index (``XX``: one already
        acked or handed out again is not brought back); how many were renewed."""
        tags = held_delivery_tags()
        task_consumer = getattr(consumer, "task_consumer", None)
        if not tags or task_consumer is None:
            return 0
        channel = task_consumer.channel
        now = time.time()
        try:
            with channel.conn_or_acquire() as client:
                return int(
                    client.zadd(
                        channel.unacked_index_key, dict.fromkeys(tags, now), xx=True, ch=True
                    )
                    or 0
                )
        except Exception:  # the next renewal retries; a Redis outage shows up everywhere else
            log.warning("could not renew the visibility of held messages", exc_info=True)
            return 0
