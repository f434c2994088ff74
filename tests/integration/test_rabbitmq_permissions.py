"""RabbitMQ in ``trusted`` mode: a tenant's producer user may only write to our exchanges.

Uses the machine's RabbitMQ (127.0.0.1:5672) and ``rabbitmqctl``; a vhost and users of the
test's own are created and deleted, so nothing else is touched. Skipped without them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from amqp.exceptions import AccessRefused
from celery import Celery
from kombu import Queue

from worker.app.broker_acl import RABBITMQ_PRODUCER_PERMISSIONS, RABBITMQ_WORKER_PERMISSIONS
from worker.app.celery_app import create_app

PASSWORD = "rabbit-test-password"


def _rabbitmqctl(*args: str, check: bool = True) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=check, capture_output=True, timeout=60)


def _rabbitmq_is_usable() -> bool:
    if shutil.which("rabbitmqctl") is None:
        return False
    try:
        socket.create_connection(("127.0.0.1", 5672), 1).close()
        subprocess.run(
            ["rabbitmqctl", "-q", "list_vhosts"], check=True, capture_output=True, timeout=60
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return True


@dataclass(frozen=True)
class Vhost:
    name: str
    worker: str
    producer: str

    def url(self, user: str) -> str:
        return f"amqp://{user}:{PASSWORD}@127.0.0.1:5672/{self.name}"


@pytest.fixture
def vhost() -> Iterator[Vhost]:
    if not _rabbitmq_is_usable():
        reason = (
            "optional RabbitMQ with rabbitmqctl not found on this machine: `.ci/run` installs "
            "and starts rabbitmq-server (then this test must run)"
        )
        if os.environ.get("AGENTWORKER_REQUIRE_AMQP") == "1":  # CI started a broker
            pytest.fail(f"AGENTWORKER_REQUIRE_AMQP=1 but the {reason}")
        pytest.skip(reason)
    suffix = uuid.uuid4().hex[:10]
    made = Vhost(f"agentworker-test-{suffix}", f"aw-worker-{suffix}", f"aw-producer-{suffix}")
    _rabbitmqctl("add_vhost", made.name)
    try:
        for user, permissions in (
            (made.worker, RABBITMQ_WORKER_PERMISSIONS),
            (made.producer, RABBITMQ_PRODUCER_PERMISSIONS),
        ):
            _rabbitmqctl("add_user", user, PASSWORD)
            _rabbitmqctl("set_permissions", "-p", made.name, user, *permissions)
        yield made
    finally:
        _rabbitmqctl("delete_vhost", made.name)
        for user in (made.worker, made.producer):
            subprocess.run(
                ["rabbitmqctl", "-q", "delete_user", user], capture_output=True, timeout=60
            )


def test_a_write_only_producer_publishes_and_cannot_consume_or_declare(vhost: Vhost) -> None:
    worker = create_app(vhost.url(vhost.worker))
    # The worker declares the queues (and their exchanges) when it starts; the producer can't.
    with worker.connection_for_write() as connection:
        for name in ("agents", "workflows"):
            worker.amqp.queues[name].bind(connection.default_channel).declare()

    producer = Celery("producer", broker=vhost.url(vhost.producer), set_as_current=False)
    producer.conf.broker_transport_options = {"confirm_publish": True}
    producer.send_task(
        "agents.run_task",
        kwargs={"prompt": "hi"},
        exchange="agents",
        routing_key="agents",
        declare=[],
    )
    with worker.connection_for_write() as connection:
        message = worker.amqp.queues["agents"].bind(connection.default_channel).get()
        assert message is not None and message.headers["task"] == "agents.run_task"
        message.ack()

    # Celery's default send_task declares the queue: that needs `configure`, refused.
    with pytest.raises(AccessRefused, match="exchange 'agents'"):
        producer.send_task("agents.run_task", kwargs={}, queue="agents")
    # The default exchange would reach any queue (e.g. maintenance): refused.
    with pytest.raises(AccessRefused, match=r"amq\.default"):
        producer.send_task(
            "maintenance.reap", kwargs={}, exchange="", routing_key="maintenance", declare=[]
        )
    with (
        producer.connection_for_write() as connection,
        pytest.raises(AccessRefused, match="queue 'agents'"),
    ):
        Queue("agents", exchange=None).bind(connection.default_channel).get()
    producer.close()
    worker.close()
