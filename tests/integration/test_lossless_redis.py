"""The Redis transport's pop-and-record (worker/app/lossless_redis.py) on a real Redis: what it
leaves in Redis is what kombu's own bookkeeping expects, so acks, rejects and the restore
sweep work on it unchanged."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis as redis_py
from kombu import Connection, Exchange, Queue

from worker.app import lossless_redis

EXCHANGE = Exchange("lossless", type="direct")
TRANSPORT: Any = lossless_redis.Transport
QUEUE = Queue("lossless", EXCHANGE, routing_key="lossless", max_priority=9)


@pytest.fixture
def connection(broker_url: str) -> Iterator[Connection]:
    options = {"visibility_timeout": 1, "priority_steps": list(range(10)), "sep": "\x06\x16"}
    with Connection(broker_url, transport=TRANSPORT, transport_options=options) as connection:
        yield connection


@pytest.fixture
def client(broker_url: str) -> Iterator[redis_py.Redis]:
    client = redis_py.Redis.from_url(broker_url)
    yield client
    client.close()


def _publish(connection: Connection, body: dict[str, Any], priority: int = 0) -> None:
    connection.Producer(serializer="json").publish(
        body, exchange=EXCHANGE, routing_key="lossless", declare=[QUEUE], priority=priority
    )


def _consume(connection: Connection, *, no_ack: bool = False, count: int = 1) -> list[Any]:
    received: list[Any] = []
    with connection.Consumer(
        QUEUE, callbacks=[lambda _body, message: received.append(message)], no_ack=no_ack
    ):
        deadline = time.monotonic() + 10
        while len(received) < count and time.monotonic() < deadline:
            with contextlib.suppress(TimeoutError):
                connection.drain_events(timeout=0.5)
    assert len(received) == count, f"received {len(received)} of {count}"
    return received


def _queued(client: redis_py.Redis) -> int:
    return sum(int(client.llen(key)) for key in client.scan_iter("lossless*"))


def test_a_received_message_is_already_unacked_in_kombus_own_format(
    connection: Connection, client: redis_py.Redis
) -> None:
    _publish(connection, {"job": 1})

    (message,) = _consume(connection)

    assert _queued(client) == 0
    entry = client.hget("unacked", message.delivery_tag)
    assert entry is not None, "the pop did not record the message as unacked"
    raw, exchange, routing_key = json.loads(entry)
    assert (exchange, routing_key) == ("lossless", "lossless")
    assert raw["properties"]["delivery_tag"] == message.delivery_tag
    assert client.zscore("unacked_index", message.delivery_tag) == pytest.approx(time.time(), abs=5)
    message.ack()
    assert client.hlen("unacked") == 0
    assert client.zcard("unacked_index") == 0


def test_a_message_nobody_acks_is_handed_out_again_by_the_restore_sweep(
    connection: Connection, client: redis_py.Redis
) -> None:
    _publish(connection, {"job": "left"})
    (first,) = _consume(connection)  # the consumer "dies": no ack, no reject

    time.sleep(1.2)  # past the visibility timeout
    connection.default_channel.qos.restore_visible()

    assert _queued(client) == 1
    (again,) = _consume(connection)
    assert again.payload == {"job": "left"}
    assert again.delivery_info.get("redelivered") or again.headers.get("redelivered")
    assert first.delivery_tag == again.delivery_tag
    again.ack()
    assert client.hlen("unacked") == 0


def test_a_rejected_message_goes_back_to_its_queue(
    connection: Connection, client: redis_py.Redis
) -> None:
    _publish(connection, {"job": "again"})
    (message,) = _consume(connection)

    message.reject(requeue=True)

    assert _queued(client) == 1
    assert client.hlen("unacked") == 0


def test_a_consumer_without_acks_leaves_nothing_unacked(
    connection: Connection, client: redis_py.Redis
) -> None:
    _publish(connection, {"reply": 1})

    _consume(connection, no_ack=True)

    assert _queued(client) == 0
    assert client.hlen("unacked") == 0  # else the restore sweep would deliver a reply twice


def test_higher_priority_first_and_fifo_within_a_priority(connection: Connection) -> None:
    for number, priority in [(1, 0), (2, 0), (3, 9), (4, 0)]:
        _publish(connection, {"n": number}, priority=priority)

    received = _consume(connection, count=4)

    # kombu's Redis priorities, as BRPOP serves them: 0 first (our publisher inverts ours).
    assert [m.payload["n"] for m in received] == [1, 2, 4, 3]
    for message in received:
        message.ack()


def test_empty_queues_are_looked_at_less_often_up_to_the_idle_cap(
    connection: Connection, client: redis_py.Redis
) -> None:
    channel = connection.default_channel
    channel.queue_declare(queue="lossless")
    channel.basic_consume("lossless", no_ack=False, callback=lambda _m: None, consumer_tag="t")
    before = int(client.info("commandstats").get("cmdstat_eval", {}).get("calls", 0))
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        with contextlib.suppress(TimeoutError):
            connection.drain_events(timeout=0.2)
    looks = int(client.info("commandstats")["cmdstat_eval"]["calls"]) - before
    # ~2 ms doubling to the 20 ms cap: about 45 looks in the first second, never hundreds.
    assert 10 <= looks <= 80, looks
