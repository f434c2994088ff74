"""No message crashes a worker, and every malformed one leaves a trace that can be listed.

Raw ``send_task`` messages that break the contract in every way we know of arrive at one real
worker (real Redis, PostgreSQL and the local LLM). Each must be acked and recorded, as a FAILED
task row or an ``ai_error_logs`` row naming its broker message id; the worker must still be
alive and serve a good job afterwards.
"""

from __future__ import annotations

from models import TaskStatus
from tests.support.agents import add_agent
from tests.support.malformed import MALFORMED, send_raw
from tests.support.stack import Stack, wait_until


def _recorded(stack: Stack, message_id: str) -> bool:
    tasks = stack.rows(
        "SELECT 1 FROM tasks WHERE broker_message_id = :m AND status = 'FAILED'", m=message_id
    )
    errors = stack.rows(
        "SELECT 1 FROM ai_error_logs WHERE error_context->>'broker_message_id' = :m",
        m=message_id,
    )
    return bool(tasks or errors)


def test_malformed_messages_are_recorded_and_no_worker_crashes(stack: Stack) -> None:
    add_agent(stack.engine, "helper")
    worker = stack.start_worker(concurrency=2)

    sent = [send_raw(stack.app, name, args, kwargs) for name, args, kwargs in MALFORMED]
    for message_id, (name, _, kwargs) in zip(sent, MALFORMED, strict=True):
        wait_until(
            lambda m=message_id: True if _recorded(stack, m) else None,
            timeout=30,
            failure=lambda m=message_id, n=name, k=kwargs: (
                f"{n} with kwargs {str(k)[:80]!r} (message {m}) left no record; worker log:\n"
                + worker.log()[-3000:]
            ),
        )
    assert worker.process.poll() is None, worker.log()[-3000:]

    good = stack.client.submit(tenant="acme", agent="helper", input="still there?")
    assert stack.wait_for(good).status == TaskStatus.SUCCEEDED
    assert worker.process.poll() is None
