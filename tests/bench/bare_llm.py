"""(b0), the ceiling of (b): bare Celery (tests/bench/bare.py's app, unchanged) whose task makes
the two chat-completion calls of (b)'s agent through the real ``openai`` SDK, and nothing else:
no database, no persistence, no retries, no tool registry.

Like an agent, the first call offers one function tool, and the local LLM server (which calls
every offered tool while no tool result follows the last user message) answers with a tool call;
the second call appends that assistant message and the tool's result, so the server answers with
text. Then the task marks its completion as bare.py's tasks do.

Run with ``celery -A tests.bench.bare_llm worker``: importing this module registers the task on
bare.py's ``app``. The worker reads ``BENCH_LLM_BASE_URL`` besides bare.py's variables.
"""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import UTC, datetime
from typing import Any

import openai

from tests.bench.bare import app, mark

__all__ = ["CHAT", "app"]

CHAT = "bench.chat"
MODEL = "bench-model"
SYSTEM_PROMPT = "You help."  # tests/support/agents.py's add_agent, as (b)'s agent has
TOOLS: list[Any] = [
    {
        "type": "function",
        "function": {
            "name": "current_time",
            "description": "The current date and time in a time zone.",
            "parameters": {
                "type": "object",
                "properties": {
                    "timezone": {
                        "type": "string",
                        "description": "An IANA time zone, e.g. Europe/Lisbon.",
                        "default": "UTC",
                    }
                },
                "additionalProperties": False,
            },
        },
    }
]

_lock = threading.Lock()
_client: openai.OpenAI | None = None


def client() -> openai.OpenAI:
    """One client per process, shared by the pool's threads (as worker/llm/gateway.py shares its
    own), created by the first task rather than at import time."""
    global _client
    if _client is None:
        with _lock:
            if _client is None:
                _client = openai.OpenAI(
                    base_url=os.environ["BENCH_LLM_BASE_URL"], api_key="local", max_retries=0
                )
    return _client


def _current_time(arguments: str) -> str:
    timezone = json.loads(arguments or "{}").get("timezone") or "UTC"
    now = datetime.now(UTC)
    return json.dumps({"now": now.isoformat(timespec="seconds"), "timezone": timezone})


@app.task(name=CHAT)
def chat(run: str, number: int) -> None:
    """Two LLM calls and one tool call, as (b)'s agent makes them."""
    start = time.time()
    llm = client()
    messages: list[Any] = [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": f"What time is it? (request {number})"},
    ]
    first = llm.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS)
    calls = first.choices[0].message.tool_calls
    if not calls:
        raise RuntimeError(f"(b0) the first LLM call answered without a tool call: {first}")
    call = calls[0].model_dump(exclude_none=True)
    messages += [
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {
            "role": "tool",
            "tool_call_id": call["id"],
            "content": _current_time(call["function"]["arguments"]),
        },
    ]
    second = llm.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS)
    if second.choices[0].message.content is None:
        raise RuntimeError(f"(b0) the second LLM call answered without text: {second}")
    mark(run, start, time.time())
