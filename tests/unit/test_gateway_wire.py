"""What LLMGateway.chat puts on the wire: the request body and headers an OpenAI-compatible
server receives, over real HTTP from the real openai client."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from worker.core.settings import Settings
from worker.llm.gateway import LLMGateway, ProviderConfig

_COMPLETION = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 0,
    "model": "model-x",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "done"},
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 11, "completion_tokens": 2, "total_tokens": 13},
}


class _Recorder(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.received: list[tuple[str, dict[str, str], Any]] = []


class _Handler(BaseHTTPRequestHandler):
    server: _Recorder

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        headers = {name.lower(): value for name, value in self.headers.items()}
        self.server.received.append((self.path, headers, body))
        data = json.dumps(_COMPLETION).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[_Recorder]:
    server = _Recorder()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_chat_sends_the_conversation_and_tools_as_given(recorder: _Recorder) -> None:
    messages = [
        {"role": "system", "content": "You help."},
        {"role": "user", "content": "What time is it?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "current_time", "arguments": '{"timezone": "UTC"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": '{"now": "2026-11-25T12:00:00Z"}'},
    ]
    tools = [
        {
            "type": "function",
            "function": {
                "name": "current_time",
                "description": "The time.",
                "parameters": {"type": "object", "properties": {"timezone": {"type": "string"}}},
            },
        }
    ]
    host, port = recorder.server_address[:2]
    gateway = LLMGateway(Settings())
    provider = ProviderConfig("test", "sk-wire-test-key", f"http://{host}:{port}/v1")
    try:
        result = gateway.chat(
            provider,
            model="model-x",
            messages=messages,
            tools=tools,
            temperature=0.2,
            max_tokens=50,
            response_format={"type": "json_object"},
        )
    finally:
        gateway.close()

    ((path, headers, body),) = recorder.received
    assert path == "/v1/chat/completions"
    assert headers["authorization"] == "Bearer sk-wire-test-key"
    assert body == {
        "model": "model-x",
        "messages": messages,
        "tools": tools,
        "temperature": 0.2,
        "max_tokens": 50,
        "response_format": {"type": "json_object"},
    }
    assert (result.message["content"], result.prompt_tokens, result.completion_tokens) == (
        "done",
        11,
        2,
    )
