"""A Redis QoS whose channel lost its connection does not raise from restore_unacked."""

from __future__ import annotations

from typing import Any

from kombu.transport import redis

from worker.app.redis_restore import survive_restore_without_connection


class _ChannelWithoutConnection:
    connection_errors = (ConnectionError,)

    def conn_or_acquire(self, client: Any = None) -> Any:
        raise AttributeError("'NoneType' object has no attribute 'hostname'")  # kombu #970


def test_restoring_unacked_messages_without_a_connection_logs_instead_of_killing_the_worker(
    caplog: Any,
) -> None:
    survive_restore_without_connection()
    survive_restore_without_connection()  # idempotent: one wrapper
    qos = redis.QoS.__new__(redis.QoS)
    qos.channel = _ChannelWithoutConnection()
    qos._delivered = {"tag-1": object()}

    redis.QoS.restore_unacked(qos)

    assert "handed out again after the visibility timeout" in caplog.text
    assert redis.QoS.restore_unacked.__wrapped__ is not None
    assert not hasattr(redis.QoS.restore_unacked.__wrapped__, "_survives_lost_connection")


class _ChannelWhoseConnectionClosed:
    """A channel after a Redis restart: its connection is gone (kombu sets it to None)."""

    connection = None
    connection_errors = (ConnectionError,)

    def conn_or_acquire(self, client: Any = None) -> Any:
        raise AttributeError("'NoneType' object has no attribute 'client'")


def test_acking_on_a_channel_that_lost_its_connection_logs_instead_of_killing_the_worker(
    caplog: Any,
) -> None:
    # Seen in make chaos: a task finished just as Redis restarted; its ack went to the old
    # channel and Celery reported "Unrecoverable error" and exited.
    survive_restore_without_connection()
    qos = redis.QoS.__new__(redis.QoS)
    qos.channel = _ChannelWhoseConnectionClosed()
    qos._delivered = {"tag-1": object()}
    qos._dirty = set()

    redis.QoS.ack(qos, "tag-1")

    assert "handed out again after the visibility timeout" in caplog.text
