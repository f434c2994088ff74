"""A message Redis hands to a worker that is dying is not lost (``make chaos``: "lost: foreign
job chaos-59: no task row; its message is nowhere in Redis", sent 20 ms after a worker kill).

kombu's Redis transport waits for messages with BRPOP, which takes the message off its queue
as Redis replies. A worker killed while it waits keeps its socket open until the kernel has
torn the process down (its memory first, its files after: tens of milliseconds for a worker's
heap), and Redis hands the next message to that socket: it is neither queued nor unacked any
more. A job with a row is re-published by the reaper; a foreign job (a bare ``send_task`` with
the whole request) has no row until a worker commits one, so it was gone for good.

SIGSTOP holds a worker in exactly that state (socket open, nothing read) for as long as the
test needs, so the window is hit every time instead of once in a soak.
"""

from __future__ import annotations

import base64
import json
import os
import signal
import time

import redis as redis_py

from models import TaskStatus
from tests.support.agents import add_agent
from tests.support.stack import Stack, wait_until


def _where_is(broker_url: str, key: str) -> str | None:
    """ "queued" or "unacked" while Redis holds the foreign job ``key``'s message, else None."""
    client = redis_py.Redis.from_url(broker_url)
    try:
        held = [("unacked", json.loads(raw)[0]) for raw in client.hvals("unacked")]
        for name in client.scan_iter("agents*"):
            if client.type(name) == b"list":
                held += [("queued", json.loads(raw)) for raw in client.lrange(name, 0, -1)]
    finally:
        client.close()
    for where, message in held:
        body = message["body"]
        if message.get("properties", {}).get("body_encoding") == "base64":
            body = base64.b64decode(body)
        if json.loads(body)[1].get("idempotency_key") == key:
            return where
    return None


def test_a_foreign_job_sent_as_its_worker_dies_is_still_in_redis_and_runs(stack: Stack) -> None:
    add_agent(stack.engine, "helper")
    dying = stack.start_worker(concurrency=2)
    time.sleep(1.0)  # idle, waiting on its queues
    os.killpg(dying.process.pid, signal.SIGSTOP)  # as a process being torn down: reads nothing

    stack.app.send_task(
        "agents.run_task",
        kwargs={
            "tenant": "acme",
            "agent": "helper",
            "input": "Foreign notice",
            "idempotency_key": "foreign-at-death",
        },
        queue="agents",
    )
    time.sleep(0.5)  # long enough for Redis to hand it to whoever waits for it
    dying.kill()

    assert _where_is(stack.broker_url, "foreign-at-death") in {"queued", "unacked"}
    stack.start_worker(AGENTWORKER_BROKER_VISIBILITY_TIMEOUT_SECONDS="2")
    (task_id,) = wait_until(
        lambda: (
            stack.rows("SELECT id FROM tasks WHERE idempotency_key = 'foreign-at-death'") or None
        ),
        timeout=30,
        failure=lambda: "the foreign job never got its row",
    )[0]
    assert stack.wait_for(task_id).status == TaskStatus.SUCCEEDED
