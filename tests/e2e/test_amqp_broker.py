"""RabbitMQ works as the broker too (``CELERY_BROKER_URL=amqp://…``)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from kombu import Connection

from models import TaskStatus
from tests.support.agents import add_agent
from tests.support.stack import Stack, stack_context, wait_until

QUEUES = ("agents", "workflows", "maintenance", "celery")


def _purge(url: str) -> None:
    with Connection(url, connect_timeout=5) as connection:
        channel = connection.default_channel
        for queue in QUEUES:
            channel.queue_declare(queue=queue, durable=True, auto_delete=False)
            channel.queue_purge(queue)


@pytest.fixture
def amqp_url() -> Iterator[str]:
    """``AMQP_URL``, else the RabbitMQ these machines run on 127.0.0.1:5672 (guest/guest)."""
    url = os.environ.get("AMQP_URL", "amqp://guest:guest@127.0.0.1:5672//")
    _purge(url)
    yield url
    _purge(url)


@pytest.fixture
def amqp_stack(database_url: str, amqp_url: str, tmp_path: Path) -> Iterator[Stack]:
    yield from stack_context(database_url, amqp_url, tmp_path)


def test_a_job_runs_end_to_end_over_rabbitmq(amqp_stack: Stack) -> None:
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
    assert "amqp://guest:**@127.0.0.1:5672//" in amqp_stack.workers[0].log()
