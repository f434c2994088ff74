"""Malformed task messages, every kind we know of, and publishing one raw: as any client
could, past Celery's own checks (tests/e2e/test_malformed_messages.py, the chaos soak)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from kombu import Producer

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


def send_raw(app: Any, name: str, args: Any, kwargs: Any) -> str:
    """Publish a task message without Celery's own checks on it; its message id."""
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
    with app.connection_for_write() as connection:
        Producer(connection).publish(
            body.encode(),
            routing_key=queue,
            headers=headers,
            correlation_id=message_id,
            content_type="application/json",
            content_encoding="utf-8",
            retry=True,
        )
    return message_id
