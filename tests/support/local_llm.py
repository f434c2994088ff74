"""Helpers for driving the local OpenAI-compatible server (``worker.dev.llm_server``) from
tests: a real ``openai`` client pointed at it, a one-message chat request, and a call to its
``/_faults`` and ``/_stats`` admin API over plain HTTP."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import openai
from openai.types.chat import ChatCompletion

from worker.dev.llm_server import LocalLLMServer

USER_TEXT = "Find venues in Lisbon for 600 people"


def openai_client(server: LocalLLMServer, **options: Any) -> openai.OpenAI:
    """An ``openai`` client for ``server`` that never retries, so every fault reaches the test."""
    return openai.OpenAI(base_url=server.base_url, api_key="test-key", max_retries=0, **options)


def admin(server: LocalLLMServer, method: str, path: str, body: object = None) -> Any:
    """Call the server's admin API (``/_faults``, ``/_stats``) and return the decoded JSON."""
    url = server.base_url.removesuffix("/v1") + path
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def ask(
    client: openai.OpenAI, text: str = USER_TEXT, model: str = "gpt-4o-mini", **kw: Any
) -> ChatCompletion:
    """A chat completion for one user message; ``kw`` goes to ``chat.completions.create``."""
    return client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": text}], **kw
    )
