"""Malformed messages among the good ones: every kind tests/e2e/test_malformed_messages.py
knows, published raw (as any client could, past Celery's own checks), and whether each left
a record an operator can list (a FAILED task row, or an ``ai_error_logs`` row, naming its
broker message id)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import sqlalchemy as sa
from kombu import Producer

from tests.e2e.test_malformed_messages import DEEP, MALFORMED

_DEEP_JSON = '{"down": ' * 3000 + '"bottom"' + "}" * 3000

__all__ = ["MALFORMED", "recorded", "send_malformed"]


def send_malformed(app: Any, number: int) -> tuple[str, str]:
    """Publish the ``number``-th malformed message (the kinds in turn); its (message id,
    what it was)."""
    name, args, kwargs = MALFORMED[number % len(MALFORMED)]
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
    return message_id, f"{name} {str(kwargs)[:60]}"


def recorded(engine: sa.Engine, message_ids: list[str]) -> set[str]:
    """Which of ``message_ids`` left a record."""
    if not message_ids:
        return set()
    query = sa.text(
        "SELECT broker_message_id FROM tasks WHERE status = 'FAILED' AND broker_message_id IN :m "
        "UNION SELECT error_context->>'broker_message_id' FROM ai_error_logs "
        "WHERE error_context->>'broker_message_id' IN :m"
    ).bindparams(sa.bindparam("m", expanding=True))
    with engine.connect() as connection:
        return {str(r[0]) for r in connection.execute(query, {"m": message_ids})}
