"""The soak gives up on a foreign job only once its message is nowhere in Redis: the probe
that tells where a foreign job's message is (queued, unacked, or gone) reads kombu's keys."""

from __future__ import annotations

from types import SimpleNamespace

from tests.chaos.soak import _Soak
from worker.app import create_app


def _soak_on(broker_url: str) -> SimpleNamespace:
    return SimpleNamespace(services=SimpleNamespace(redis=SimpleNamespace(url=lambda: broker_url)))


def test_the_drain_sees_a_foreign_message_queued_then_unacked_then_gone(broker_url: str) -> None:
    app = create_app(broker_url)
    soak = _soak_on(broker_url)
    app.send_task(
        "agents.run_task",
        kwargs={"tenant": "t", "agent": "a", "input": "x", "idempotency_key": "chaos-59"},
        queue="agents",
    )
    app.send_task("agents.run_task", kwargs={"task_id": "0" * 32}, queue="agents")
    keys = {"chaos-59", "chaos-60"}

    assert _Soak._foreign_in_broker(soak, keys) == {"chaos-59": "queued"}  # type: ignore[arg-type]

    with app.connection_for_read() as connection:
        channel = connection.default_channel
        taken = [channel.basic_get("agents", no_ack=False) for _ in range(2)]
        assert all(taken)
        assert _Soak._foreign_in_broker(soak, keys) == {"chaos-59": "unacked"}  # type: ignore[arg-type]
        for message in taken:
            channel.basic_ack(message.delivery_tag)
    assert _Soak._foreign_in_broker(soak, keys) == {}  # type: ignore[arg-type]
