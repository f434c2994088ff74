"""No message crashes a worker, and every malformed one leaves a trace that can be listed.

Raw ``send_task`` messages that break the contract in every way we know of arrive at one real
worker (real Redis, PostgreSQL and the local LLM). Each must be acked and recorded, as a FAILED
task row or an ``ai_error_logs`` row naming its broker message id; the worker must still be
alive and serve a good job afterwards.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from kombu import Producer

from models import TaskStatus
from tests.support.agents import add_agent
from tests.support.stack import Stack, wait_until

#: Stands for JSON nested thousands deep, which no encoder here would write.
DEEP = "<json nested 3000 deep>"
_DEEP_JSON = '{"down": ' * 3000 + '"bottom"' + "}" * 3000


#: (task name, args, kwargs): each breaks the contract differently.
MALFORMED: list[tuple[str, Any, Any]] = [
    ("agents.run_task", [], ["tenant", "acme"]),
    ("agents.run_task", [], "tenant=acme"),
    ("agents.run_task", ["acme", "helper", "hi"], {}),
    ("agents.run_task", [], {"tenant": "acme", "agent": "helper", "input": "nul \x00 byte"}),
    ("agents.run_task", [], {"tenant": "acme", "agent": "helper", "input": DEEP}),
    ("agents.run_task", [], {"tenant": "acme", "agent": "helper", "input": {"x": float("nan")}}),
    ("agents.run_task", [], {"tenant": "acme", "agent": "helper", "input": float("inf")}),
    ("agents.run_task", [], {"tenant": "acme", "agent": "helper", "input": "lone \ud800 half"}),
    ("agents.run_task", [], {"tenant": "acme\udfff", "agent": "helper", "input": "hi"}),
    ("agents.no_such_task", [], {"tenant": "acme"}),
    ("approvals.resolve", [], {"approval_id": "not-a-uuid", "decision": "approve", "user": "x"}),
    ("knowledge.ingest", [], {"tenant": "acme", "text": "no name"}),
    ("workflows.advance", [], {"execution_id": 42}),
    ("workflows.start", [], []),
]


def _send_raw(stack: Stack, name: str, args: Any, kwargs: Any) -> str:
    """Publish a task message as any client could, without Celery's own checks on it."""
    message_id = str(uuid.uuid4())
    queue = "workflows" if name.startswith(("workflows.", "approvals.")) else "agents"
    headers = {
        "lang": "py",
        "task": name,
        "id": message_id,
        "root_id": message_id,
        "parent_id": None,
        "group": None,
        "retries": 0,
        "eta": None,
        "expires": None,
        "timelimit": [None, None],
    }
    embed = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}
    body = json.dumps([args, kwargs, embed]).replace(json.dumps(DEEP), _DEEP_JSON)
    with stack.app.connection_for_write() as connection:
        Producer(connection).publish(
            body.encode(),
            routing_key=queue,
            headers=headers,
            correlation_id=message_id,
            content_type="application/json",
            content_encoding="utf-8",
        )
    return message_id


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

    sent = [_send_raw(stack, name, args, kwargs) for name, args, kwargs in MALFORMED]
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
