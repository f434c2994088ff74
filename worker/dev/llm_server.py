"""A local, deterministic OpenAI-compatible HTTP server with fault injection.

It is the LLM of every test and benchmark, and of the demo when no API key is configured. The
real ``openai`` client talks to it over HTTP: ``GET /v1/models``, ``POST /v1/chat/completions``
(tool calls included, no streaming) and ``POST /v1/embeddings`` (float and base64).

Chat behaviour: when tools are offered and no tool results have come back since the last user
message, the assistant calls every offered tool (``[[tools: a, b]]`` in the user's message
picks some, ``[[no-tools]]`` none); otherwise it answers ``"Answer to: <user text>"``, plus
``" | Based on: <tool results>"`` once tools have answered.

Faults, first match wins: the ``X-Fault`` request header (``status=429; retry-after=2``,
``delay-ms=300``), then faults queued per model with ``POST /_faults``, then the server's own
``fault_status``/``fault_every``. ``GET /_stats`` counts requests.

Run it with ``python -m worker.dev.llm_server --port 8765``.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import hashlib
import json
import math
import os
import re
import signal
import socket
import struct
import sys
import threading
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from worker.dev.llm_schema import (
    ANSWER_TEXT_PROPERTIES,
    TOOL_TEXT_PROPERTIES,
    TextSource,
    example_value,
)

MODEL_IDS = ("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "local-model", "text-embedding-3-small")
DEFAULT_EMBEDDING_DIM = 1536
STOPWORDS = frozenset(
    {"the", "a", "an", "of", "to", "in", "and", "is", "what", "which", "for", "on", "with", "by"}
    | {"at", "it", "this", "that", "be", "are", "was", "how", "do", "does"}
)
_DIRECTIVE = re.compile(r"\[\[(.*?)\]\]", re.DOTALL)
_TOOLS_DIRECTIVE = re.compile(r"^\s*tools\s*:(.*)$", re.IGNORECASE | re.DOTALL)
_WORD = re.compile(r"[a-z0-9]+")
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    409: "conflict_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


class ApiError(Exception):
    """An error answered to the client as an OpenAI-style error body."""

    def __init__(
        self, status: int, message: str, *, param: str | None = None, retry_after: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.retry_after = retry_after

    def body(self) -> dict[str, Any]:
        error_type = _ERROR_TYPES.get(self.status, "server_error" if self.status >= 500 else "")
        return {
            "error": {
                "message": self.message,
                "type": error_type or "invalid_request_error",
                "param": self.param,
                "code": None,
            }
        }


# --- faults ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Fault:
    status: int | None = None
    retry_after: float | None = None
    delay_ms: float = 0

    @classmethod
    def from_mapping(cls, raw: dict[str, Any]) -> Fault:
        unknown = set(raw) - {"status", "retry_after", "delay_ms"}
        if unknown:
            raise ValueError(
                f"unknown fault keys {sorted(unknown)}; use status, retry_after, delay_ms"
            )
        fault = cls(
            status=None if raw.get("status") is None else int(raw["status"]),
            retry_after=None if raw.get("retry_after") is None else float(raw["retry_after"]),
            delay_ms=float(raw.get("delay_ms") or 0),
        )
        if fault.status is not None and not 400 <= fault.status <= 599:
            raise ValueError(
                f"fault status must be an HTTP error status 400..599, got {fault.status}"
            )
        if fault.delay_ms < 0 or (fault.retry_after is not None and fault.retry_after < 0):
            raise ValueError("delay_ms and retry_after must not be negative")
        return fault

    @classmethod
    def from_header(cls, header: str) -> Fault:
        """Parse ``X-Fault: status=429; retry-after=2; delay-ms=300``."""
        raw: dict[str, Any] = {}
        for item in filter(None, (part.strip() for part in header.split(";"))):
            key, _, value = item.partition("=")
            raw[key.strip().lower().replace("-", "_")] = value.strip()
        return cls.from_mapping(raw)

    def apply(self) -> None:
        """Sleep for the delay, then raise the error status if there is one."""
        if self.delay_ms:
            time.sleep(self.delay_ms / 1000)
        if self.status is not None:
            retry_after = None if self.retry_after is None else f"{self.retry_after:g}"
            raise ApiError(
                self.status,
                f"injected fault: HTTP {self.status} from the local LLM server",
                retry_after=retry_after,
            )


class FaultQueues:
    """FIFO queues of programmed faults per model name (``*`` matches any model)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queues: dict[str, deque[Fault]] = {}

    def extend(self, model: str, faults: list[Fault]) -> int:
        with self._lock:
            queue = self._queues.setdefault(model, deque())
            queue.extend(faults)
            return len(queue)

    def pop(self, model: str) -> Fault | None:
        with self._lock:
            for key in (model, "*"):
                if queue := self._queues.get(key):
                    return queue.popleft()
            return None

    def clear(self) -> None:
        with self._lock:
            self._queues.clear()

    def pending(self) -> dict[str, list[dict[str, Any]]]:
        with self._lock:
            return {model: [asdict(f) for f in q] for model, q in self._queues.items() if q}


class Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()
        self._by_model: Counter[str] = Counter()

    def record(self, endpoint: str, model: object) -> None:
        with self._lock:
            self._counts[endpoint] += 1
            if isinstance(model, str):
                self._by_model[model] += 1

    def record_fault(self) -> None:
        with self._lock:
            self._counts["faults_injected"] += 1

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            names = ("chat_completions", "embeddings", "faults_injected")
            return {**{n: self._counts[n] for n in names}, "by_model": dict(self._by_model)}

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
            self._by_model.clear()


# --- chat completions ------------------------------------------------------------------------


def _text_of(content: object) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def _words(text: str) -> int:
    return len(text.split())


def _sha1(*parts: str) -> str:
    return hashlib.sha1("\x1f".join(parts).encode()).hexdigest()


@dataclass(frozen=True)
class Conversation:
    last_user: str
    tool_results: list[str]
    tools: list[dict[str, Any]]

    @classmethod
    def from_messages(cls, messages: list[Any], tools: list[Any]) -> Conversation:
        last_user_index = max(
            (i for i, m in enumerate(messages) if isinstance(m, dict) and m.get("role") == "user"),
            default=-1,
        )
        last_user = (
            _text_of(messages[last_user_index].get("content")) if last_user_index >= 0 else ""
        )
        results = [
            _text_of(m.get("content"))
            for m in messages[last_user_index + 1 :]
            if isinstance(m, dict) and m.get("role") == "tool"
        ]
        functions = [
            t["function"]
            for t in tools
            if isinstance(t, dict) and isinstance(t.get("function"), dict)
        ]
        return cls(last_user, results, functions)

    @property
    def clean_user_text(self) -> str:
        return _DIRECTIVE.sub("", self.last_user).strip()[:500]

    def tools_to_call(self, tool_choice: object) -> list[str]:
        offered = [str(t.get("name")) for t in self.tools]
        if not offered or tool_choice == "none" or self.tool_results:
            return []
        if isinstance(tool_choice, dict):
            return [str((tool_choice.get("function") or {}).get("name"))]
        for directive in _DIRECTIVE.findall(self.last_user):
            if directive.strip().lower() == "no-tools":
                return []
            if match := _TOOLS_DIRECTIVE.match(directive):
                return [name.strip() for name in match.group(1).split(",") if name.strip()]
        return offered

    def answer(self) -> str:
        answer = f"Answer to: {self.clean_user_text}"
        if self.tool_results:
            answer += " | Based on: " + " ; ".join(r[:300] for r in self.tool_results)
        return answer


def _tool_call(conversation: Conversation, model: str, name: str, index: int) -> dict[str, Any]:
    """A call to ``name``; a name that was not offered (via ``[[tools: …]]``) gets ``{}``,
    which lets tests exercise a model calling an unknown tool."""
    schema = next((t.get("parameters") for t in conversation.tools if t.get("name") == name), None)
    source = TextSource(conversation.clean_user_text, conversation.last_user, TOOL_TEXT_PROPERTIES)
    arguments = example_value(schema, source) if isinstance(schema, dict) else {}
    return {
        "id": "call_" + _sha1(model, conversation.last_user, name, str(index))[:24],
        "type": "function",
        "function": {"name": name, "arguments": json.dumps(arguments)},
    }


def _content_for(answer: str, conversation: Conversation, response_format: object) -> str:
    if not isinstance(response_format, dict):
        return answer
    schema = (response_format.get("json_schema") or {}).get("schema")
    if response_format.get("type") == "json_schema" and isinstance(schema, dict):
        source = TextSource(answer, conversation.last_user, ANSWER_TEXT_PROPERTIES)
        return json.dumps(example_value(schema, source))
    if response_format.get("type") in ("json_object", "json_schema"):
        return json.dumps({"answer": answer})
    return answer


def _prompt_tokens(messages: list[Any], tools: list[Any]) -> int:
    words = 0
    for message in (m for m in messages if isinstance(m, dict)):
        words += _words(_text_of(message.get("content")))
        for call in message.get("tool_calls") or []:
            words += _words(str((call.get("function") or {}).get("arguments", "")))
    return max(1, words + 10 * len(tools))


def _require_chat_fields(body: dict[str, Any]) -> None:
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise ApiError(400, "you must provide a model parameter", param="model")
    if not isinstance(body.get("messages"), list):
        raise ApiError(400, "'messages' must be a list of message objects", param="messages")
    if body.get("stream"):
        raise ApiError(
            400,
            "streaming is not supported by the local LLM server; call without stream=True",
            param="stream",
        )


def chat_completion(body: dict[str, Any]) -> dict[str, Any]:
    """The deterministic answer to a chat completions request body."""
    _require_chat_fields(body)
    model, messages = body["model"], body["messages"]
    tools: list[Any] = body["tools"] if isinstance(body.get("tools"), list) else []
    conversation = Conversation.from_messages(messages, tools)
    names = conversation.tools_to_call(body.get("tool_choice"))
    message: dict[str, Any] = {"role": "assistant", "refusal": None, "annotations": []}
    if names:
        calls = [_tool_call(conversation, model, name, i) for i, name in enumerate(names)]
        message |= {"content": None, "tool_calls": calls}
        output = " ".join(c["function"]["arguments"] for c in calls)
    else:
        output = _content_for(conversation.answer(), conversation, body.get("response_format"))
        message["content"] = output
    prompt_tokens = _prompt_tokens(messages, tools)
    completion_tokens = max(1, _words(output))
    return {
        "id": "chatcmpl-" + _sha1(json.dumps(body, sort_keys=True))[:24],
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": "fp_agentworker_local",
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": "tool_calls" if names else "stop",
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


# --- embeddings ------------------------------------------------------------------------------


def embed(text: str, dimensions: int) -> list[float]:
    """A hashed bag of words, L2-normalised: texts that share words are near in cosine."""
    vector = [0.0] * dimensions
    for token in _WORD.findall(text.lower()):
        if token in STOPWORDS:
            continue
        digest = int.from_bytes(hashlib.blake2b(token.encode(), digest_size=8).digest(), "little")
        vector[(digest >> 1) % dimensions] += 1.0 if digest & 1 else -1.0
    norm = math.sqrt(sum(v * v for v in vector))
    if norm == 0:
        return [1 / math.sqrt(dimensions)] * dimensions
    return [v / norm for v in vector]


def _embedding_inputs(raw: object) -> list[str]:
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list) and raw and all(isinstance(item, str) for item in raw):
        return raw
    raise ApiError(
        400,
        "'input' must be a string or a non-empty list of strings; the local LLM server supports "
        "only text input, not token arrays",
        param="input",
    )


def embeddings(body: dict[str, Any], default_dimensions: int) -> dict[str, Any]:
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise ApiError(400, "you must provide a model parameter", param="model")
    texts = _embedding_inputs(body.get("input"))
    dimensions = body.get("dimensions") or default_dimensions
    if not isinstance(dimensions, int) or dimensions < 1:
        raise ApiError(400, "'dimensions' must be a positive integer", param="dimensions")
    encoding = body.get("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        raise ApiError(
            400, "'encoding_format' must be 'float' or 'base64'", param="encoding_format"
        )
    data = []
    for index, text in enumerate(texts):
        packed = struct.pack(f"<{dimensions}f", *embed(text, dimensions))
        vector: object = (
            base64.b64encode(packed).decode()
            if encoding == "base64"
            else list(struct.unpack(f"<{dimensions}f", packed))
        )
        data.append({"object": "embedding", "index": index, "embedding": vector})
    tokens = sum(_words(text) for text in texts)
    return {
        "object": "list",
        "data": data,
        "model": body["model"],
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


def _model(model_id: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": 0, "owned_by": "agentworker-local"}


# --- HTTP --------------------------------------------------------------------------------------


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], app: LocalLLMServer) -> None:
        self.app = app
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (a timeout, a closed pool) is routine, not worth a traceback."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    def close_idle_connections(self) -> None:
        """Wake handler threads blocked on keep-alive connections so they end."""
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "agentworker-local-llm"
    disable_nagle_algorithm = True
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: benchmarks send hundreds of requests a second."""

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        headers: dict[str, str] = {}
        try:
            body = self._read_json_body()
            status, payload = self.server.app.handle(method, self.path, self.headers, body)
        except ApiError as error:
            status, payload = error.status, error.body()
            if error.retry_after is not None:
                headers["Retry-After"] = error.retry_after
        except Exception as error:  # a bug here must not kill the connection thread silently
            status = 500
            payload = ApiError(500, f"local LLM server bug: {error!r}").body()
        self._send_json(status, payload, headers)

    def _read_json_body(self) -> dict[str, Any]:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            raise ApiError(411, "send the request body with a Content-Length, not chunked")
        length_header = self.headers.get("Content-Length") or "0"
        if not length_header.isdigit():
            self.close_connection = True
            raise ApiError(400, f"Content-Length must be a whole number, got {length_header!r}")
        length = int(length_header)
        raw = self.rfile.read(length) if length else b""
        if not raw.strip():
            return {}
        try:
            body = json.loads(raw)
        except ValueError as error:
            raise ApiError(400, f"the request body is not valid JSON: {error}") from None
        if not isinstance(body, dict):
            raise ApiError(400, "the request body must be a JSON object")
        return body

    def _send_json(self, status: int, payload: object, headers: dict[str, str]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


def _default_embedding_dim() -> int:
    raw = os.environ.get("AGENTWORKER_EMBEDDING_DIM") or str(DEFAULT_EMBEDDING_DIM)
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"AGENTWORKER_EMBEDDING_DIM must be a positive whole number, got {raw!r}")
    return int(raw)


class LocalLLMServer:
    """The local OpenAI-compatible server; ``start()`` serves on a daemon thread.

    ``fault_every=N`` with ``fault_status`` fails every Nth chat/embeddings request with that
    status; ``latency_ms`` is added to every chat/embeddings request.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        latency_ms: float = 0,
        embedding_dim: int | None = None,
        fault_status: int | None = None,
        fault_every: int = 0,
        require_api_key: str | None = None,
    ) -> None:
        if fault_every and fault_status is None:
            raise ValueError("fault_every needs fault_status, the HTTP status to fail with")
        self.host, self.port = host, port
        self.latency_ms = latency_ms
        self.embedding_dim = embedding_dim or _default_embedding_dim()
        self.fault_status, self.fault_every = fault_status, fault_every
        self.require_api_key = require_api_key
        self.faults = FaultQueues()
        self.stats = Stats()
        self._sequence = 0
        self._sequence_lock = threading.Lock()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> str:
        if self._httpd is not None:
            return self.base_url
        self._httpd = _HTTPServer((self.host, self.port), self)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="local-llm-server",
            daemon=True,
        )
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        httpd.shutdown()
        httpd.close_idle_connections()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join()

    @property
    def base_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the local LLM server is not running; call start() first")
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def __enter__(self) -> LocalLLMServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- request handling (called on the connection's thread) --

    def handle(
        self, method: str, raw_path: str, headers: Any, body: dict[str, Any]
    ) -> tuple[int, object]:
        path = raw_path.split("?", 1)[0].rstrip("/")
        if path.startswith("/_"):
            return 200, self._admin(method, path, body)
        if path.startswith("/v1/"):
            self._authenticate(headers.get("Authorization", ""))
        if path == "/v1/models" and method == "GET":
            return 200, {"object": "list", "data": [_model(m) for m in MODEL_IDS]}
        if path.startswith("/v1/models/") and method == "GET":
            return 200, _model(path.removeprefix("/v1/models/"))
        if path == "/v1/chat/completions" and method == "POST":
            self._before_model_call("chat_completions", body, headers)
            return 200, chat_completion(body)
        if path == "/v1/embeddings" and method == "POST":
            self._before_model_call("embeddings", body, headers)
            return 200, embeddings(body, self.embedding_dim)
        raise ApiError(
            404,
            f"unknown endpoint {method} {path}; the local LLM server serves GET /v1/models, "
            "POST /v1/chat/completions, POST /v1/embeddings and the /_faults, /_stats admin API",
        )

    def _authenticate(self, authorization: str) -> None:
        if self.require_api_key is None:
            return
        if authorization != f"Bearer {self.require_api_key}":
            raise ApiError(401, "incorrect API key provided to the local LLM server")

    def _before_model_call(self, endpoint: str, body: dict[str, Any], headers: Any) -> None:
        model = body.get("model")
        self.stats.record(endpoint, model)
        with self._sequence_lock:
            self._sequence += 1
            sequence = self._sequence
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000)
        fault = self._fault_for(str(model), headers.get("X-Fault"), sequence)
        if fault is not None:
            self.stats.record_fault()
            fault.apply()

    def _fault_for(self, model: str, header: str | None, sequence: int) -> Fault | None:
        if header is not None:
            try:
                return Fault.from_header(header)
            except ValueError as error:
                raise ApiError(
                    400, f"bad X-Fault header {header!r}: {error}; e.g. 'status=429; retry-after=2'"
                ) from None
        if programmed := self.faults.pop(model):
            return programmed
        if self.fault_every and sequence % self.fault_every == 0:
            return Fault(status=self.fault_status)
        return None

    def _admin(self, method: str, path: str, body: dict[str, Any]) -> object:
        if path == "/_faults" and method == "POST":
            return self._program_faults(body)
        if path == "/_faults" and method == "DELETE":
            self.faults.clear()
            return {"cleared": True}
        if path == "/_faults" and method == "GET":
            return {"pending": self.faults.pending()}
        if path == "/_stats" and method == "GET":
            return self.stats.snapshot()
        if path == "/_stats/reset" and method == "POST":
            self.stats.reset()
            return self.stats.snapshot()
        raise ApiError(
            404,
            f"unknown admin endpoint {method} {path}; use POST/GET/DELETE /_faults, "
            "GET /_stats or POST /_stats/reset",
        )

    def _program_faults(self, body: dict[str, Any]) -> dict[str, Any]:
        model = body.get("model", "*")
        raw_faults = body.get("faults")
        if not isinstance(model, str) or not isinstance(raw_faults, list):
            raise ApiError(
                400,
                'POST /_faults takes {"model": "<name or *>", "faults": [{"status": 429, '
                '"retry_after": 1}, {"delay_ms": 2000}, ...]}',
            )
        try:
            faults = [Fault.from_mapping(f) for f in raw_faults if isinstance(f, dict)]
        except (TypeError, ValueError) as error:
            raise ApiError(400, f"bad fault: {error}", param="faults") from None
        if len(faults) != len(raw_faults):
            raise ApiError(400, "each fault must be a JSON object", param="faults")
        return {"model": model, "queued": self.faults.extend(model, faults)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m worker.dev.llm_server",
        description="Serve a deterministic OpenAI-compatible API with fault injection.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--latency-ms", type=float, default=0)
    parser.add_argument("--embedding-dim", type=int, default=None)
    parser.add_argument("--fault-status", type=int, default=None)
    parser.add_argument("--fault-every", type=int, default=0)
    parser.add_argument("--require-api-key", default=None)
    args = parser.parse_args(argv)
    server = LocalLLMServer(
        args.host,
        args.port,
        latency_ms=args.latency_ms,
        embedding_dim=args.embedding_dim,
        fault_status=args.fault_status,
        fault_every=args.fault_every,
        require_api_key=args.require_api_key,
    )
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    print(f"local LLM server listening on {server.start()}", flush=True)
    try:
        while not stopping.wait(0.5):
            pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
