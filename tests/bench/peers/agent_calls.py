"""(b)'s agent work as the peers make it, inside their own venvs (standard library + openai only):
the same model name, system prompt, tool schema and tool as tests/bench/bare_llm.py (which cannot
be imported there: it registers a Celery task)."""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime
from typing import Any

import openai

MODEL = "bench-model"
SYSTEM_PROMPT = "You help."
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
    """One client per process, shared by its threads, as bare_llm and our gateway share theirs."""
    global _client
    if _client is None:
        with _lock:
            if _client is None:
                _client = openai.OpenAI(
                    base_url=os.environ["BENCH_LLM_BASE_URL"], api_key="local", max_retries=0
                )
    return _client


def first_messages(number: int) -> list[dict[str, Any]]:
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": f"What time is it? (request {number})"},
    ]


def chat(messages: list[dict[str, Any]]) -> dict[str, Any]:
    """One chat completion with the tool offered; the assistant message as a plain dict."""
    response = client().chat.completions.create(model=MODEL, messages=messages, tools=TOOLS)  # type: ignore[arg-type]
    return response.choices[0].message.model_dump(exclude_none=True)


def current_time(arguments: str) -> str:
    timezone = json.loads(arguments or "{}").get("timezone") or "UTC"
    now = datetime.now(UTC)
    return json.dumps({"now": now.isoformat(timespec="seconds"), "timezone": timezone})


def tool_message(call: dict[str, Any]) -> dict[str, Any]:
    return {
        "role": "tool",
        "tool_call_id": call["id"],
        "content": current_time(call["function"]["arguments"]),
    }


def wait_for_line(expected: str) -> None:
    """Block on stdin until the driver writes ``expected`` (or closes it)."""
    import sys

    for line in sys.stdin:
        if line.strip() == expected:
            return
