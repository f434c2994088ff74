"""Tools with external effects for crash tests: each POSTs to the test's sink
(``tests.support.sink``), whose URL the test gives the worker in ``AGENTWORKER_TEST_SINK_URL``.

A worker loads them with ``AGENTWORKER_TOOL_MODULES=tests.support.sink_tools``:

- ``notify_sink`` is declared idempotent: it sends the call's idempotency key and the sink
  deduplicates by it, so the worker may call it again when an earlier attempt's outcome is
  unknown;
- ``notify_sink_once`` is not: its endpoint applies every request, so the worker must never
  run it twice for one call (an unknown outcome is reported to the model instead).
"""

from __future__ import annotations

import json
import os
import urllib.request
from typing import Any

from worker.agents.tools import ToolContext, ToolRegistry

SINK_URL_VARIABLE = "AGENTWORKER_TEST_SINK_URL"
MODULE = __name__
IDEMPOTENT_TOOL = "notify_sink"
ONCE_TOOL = "notify_sink_once"


def register_tools(registry: ToolRegistry) -> None:
    registry.tool(side_effects=True, idempotent=True)(notify_sink)
    registry.tool(side_effects=True)(notify_sink_once)


def notify_sink(context: ToolContext, message: str) -> dict[str, Any]:
    """Send a notice to the external notification service (deduplicated by its key)."""
    return _post("/notify", context, message)


def notify_sink_once(context: ToolContext, message: str) -> dict[str, Any]:
    """Send a notice to the external service that applies every request it gets."""
    return _post("/once", context, message)


def _post(path: str, context: ToolContext, message: str) -> dict[str, Any]:
    base = os.environ.get(SINK_URL_VARIABLE)  # read per call: the test sets it per worker
    if not base:
        raise RuntimeError(
            f"{SINK_URL_VARIABLE} is not set: the test must give the worker its sink"
        )
    body = {
        "message": message,
        "task_id": str(context.task_id),
        "tool_call_id": context.tool_call_id,
        "outcome_unknown": context.outcome_unknown,
    }
    request = urllib.request.Request(
        base.rstrip("/") + path,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    if context.idempotency_key:
        request.add_header("Idempotency-Key", context.idempotency_key)
    with urllib.request.urlopen(request, timeout=10) as response:
        answer: dict[str, Any] = json.loads(response.read() or b"{}")
    return {"delivered": True, "applied": bool(answer.get("applied"))}
