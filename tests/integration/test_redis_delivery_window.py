"""A message Redis handed out just before it went away is not lost (``make chaos``: "lost:
foreign job chaos-59: no task row", around the soak's Redis restart).

kombu's Redis transport takes a message off its queue (BRPOP) and only then records it as
unacked (ZADD + HSET, ``QoS.append``). Redis stopping between the two used to leave the message
in the worker's memory only: the append raised, the consumer reconnected, and the message was
neither queued nor unacked. A foreign job (``send_task`` with the whole request) has no row
until a worker commits one, so nothing else (the reaper) could bring it back.
"""

from __future__ import annotations

from typing import Any

import pytest
import redis as redis_py
from kombu import Connection, Exchange, Queue

from worker.app.redis_restore import survive_restore_without_connection

QUEUE = Queue("window", Exchange("window"), routing_key="window")


class _RedisGoneFor:
    """``Pipeline.execute`` refuses the first ``times`` calls, as a Redis that stopped."""

    def __init__(self, times: int) -> None:
        self.times = times
        self.refused = 0
        self._execute = redis_py.client.Pipeline.execute

    def __call__(self, pipeline: Any, *args: Any, **kwargs: Any) -> Any:
        if self.refused < self.times:
            self.refused += 1
            pipeline.reset()
            raise redis_py.ConnectionError("Error 111 connecting: Connection refused.")
        return self._execute(pipeline, *args, **kwargs)


def _where_is_it(broker_url: str) -> dict[str, int]:
    client = redis_py.Redis.from_url(broker_url)
    try:
        return {
            "queued": sum(int(client.llen(key)) for key in client.scan_iter("window*")),
            "unacked": int(client.hlen("unacked")),
        }
    finally:
        client.close()


def test_a_message_taken_off_the_queue_as_redis_stops_is_still_unacked(
    broker_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    survive_restore_without_connection()
    outage = _RedisGoneFor(times=3)
    with Connection(broker_url, transport_options={"visibility_timeout": 30}) as connection:
        producer = connection.Producer(serializer="json")
        producer.publish(
            {"job": "chaos-59"}, exchange=QUEUE.exchange, routing_key="window", declare=[QUEUE]
        )
        channel = connection.default_channel
        monkeypatch.setattr(
            redis_py.client.Pipeline, "execute", lambda pipe, *a, **k: outage(pipe, *a, **k)
        )

        message = channel.basic_get("window", no_ack=False)  # BRPOP's twin: pop, then append

        monkeypatch.undo()
        assert outage.refused == 3  # the append met the outage, and waited it out
        assert message is not None
        assert _where_is_it(broker_url) == {"queued": 0, "unacked": 1}  # handed out again
        channel.basic_ack(message.delivery_tag)
        assert _where_is_it(broker_url) == {"queued": 0, "unacked": 0}
