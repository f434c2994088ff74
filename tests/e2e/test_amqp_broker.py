"""RabbitMQ works as the broker too (``CELERY_BROKER_URL=amqp://…``).

The broker is ``AMQP_URL``, else ``amqp://guest:guest@127.0.0.1:5672//``. RabbitMQ is optional:
when nothing answers there, the test skips and says how to enable it (``.ci/run`` starts one).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from kombu import Connection

from models import TaskStatus
from tests.support.agents import add_agent
from tests.support.stack import Stack, stack_context, wait_until

DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672//"
QUEUES = ("agents", "workflows", "maintenance", "celery")


#: Set by `.ci/run` once it has made sure a RabbitMQ answers: then this test must run.
REQUIRE_AMQP = "AGENTWORKER_REQUIRE_AMQP"


def _purge(url: str) -> None:
    with Connection(url, connect_timeout=5) as connection:
        channel = connection.default_channel
        for queue in QUEUES:
            channel.queue_declare(queue=queue, durable=True, auto_delete=False)
            channel.queue_purge(queue)


def _skip_unless_something_answers(url: str) -> None:
    """Skip, naming the broker and how to enable it, when nothing listens where ``url`` points;
    a broker that answers but refuses us is a failure, not a skip."""
    connection = Connection(url)
    info = connection.info()
    host, port = info["hostname"], info["port"]
    try:
        socket.create_connection((host, port), timeout=3).close()
    except OSError as error:
        where = "from AMQP_URL" if os.environ.get("AMQP_URL") else "the default; AMQP_URL is unset"
        reason = (
            f"optional RabbitMQ broker {connection.as_uri()} ({where}) not tried: nothing "
            f"answers on {host}:{port} ({error}). To run this test, start RabbitMQ there "
            "(`.ci/run` installs and starts rabbitmq-server; or `docker run -d "
            "-p 5672:5672 rabbitmq`), or set AMQP_URL=amqp://user:password@host:port/vhost"
        )
        if os.environ.get(REQUIRE_AMQP) == "1":  # CI started a broker: not finding it fails
            pytest.fail(f"{REQUIRE_AMQP}=1 but the {reason}")
        pytest.skip(reason)


@pytest.fixture
def amqp_url() -> Iterator[str]:
    """``AMQP_URL``, else RabbitMQ's default on 127.0.0.1:5672 (guest/guest); skips without one."""
    url = os.environ.get("AMQP_URL") or DEFAULT_AMQP_URL
    _skip_unless_something_answers(url)
    _purge(url)
    yield url
    _purge(url)


@pytest.fixture
def amqp_stack(database_url: str, amqp_url: str, tmp_path: Path) -> Iterator[Stack]:
    yield from stack_context(database_url, amqp_url, tmp_path)


def test_a_job_runs_end_to_end_over_rabbitmq(amqp_stack: Stack, amqp_url: str) -> None:
    add_agent(amqp_stack.engine, "helper", tools=["current_time"])
    amqp_stack.start_worker()

    task_id = amqp_stack.client.submit(tenant="acme", agent="helper", input="over amqp")
    foreign = amqp_stack.app.send_task(
        "agents.run_task",
        queue="agents",
        kwargs={"tenant": "acme", "agent": "helper", "input": "raw over amqp"},
    )

    assert amqp_stack.wait_for(task_id).status == TaskStatus.SUCCEEDED
    raw_id = wait_until(
        lambda: next(
            (
                r.id
                for r in amqp_stack.rows(
                    "SELECT id FROM tasks WHERE broker_message_id = :m", m=foreign.id
                )
            ),
            None,
        ),
        timeout=30,
        failure=lambda: "the raw submission never became a task",
    )
    assert amqp_stack.wait_for(raw_id).status == TaskStatus.SUCCEEDED
    assert Connection(amqp_url).as_uri() in amqp_stack.workers[0].log()  # password masked
