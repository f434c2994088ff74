"""A local, deterministic OpenAI-compatible HTTP server with fault injection.

It is the LLM of every test and benchmark, and of the demo when no API key is configured. The
real ``openai`` client talks to it over HTTP: ``GET /v1/models``, ``POST /v1/chat/completions``
(tool calls included, no streaming) and ``POST /v1/embeddings`` (float and base64).

This module is the server itself: its routes, the API-key check, the ``/_faults`` and
``/_stats`` admin API, and ``python -m worker.dev.llm_server``. The replies are
``llm_chat`` (what the assistant says, see there) and ``llm_embeddings``; the fault types are
``llm_faults``; the HTTP plumbing is ``llm_http``.

A rate limit set with ``POST /_rate_limit`` (``{"model": "*", "requests": 40,
"per_seconds": 60, "retry_after": [0.6, 1.5]}``) refuses, with 429 and a ``Retry-After``, every
request over it, before any fault. Faults, first match wins: the ``X-Fault`` request header
(``status=429; retry-after=2``, ``delay-ms=300``, ``trickle-ms=100``), then faults queued per
model with ``POST /_faults``, then the server's own ``fault_status``/``fault_every``.
``GET /_stats`` counts requests; ``GET /_rate_limit`` the limits and how many they refused.
``POST /_tool_arguments`` (``{"model": "m", "arguments": {"token": {"$secret": "env:X"}}}``)
scripts what a model writes: those arguments go into every tool call it makes (a model
following a prompt injection, say).

Run it with ``python -m worker.dev.llm_server --port 8765``.
"""

from __future__ import annotations

import argparse
import os
import signal
import threading
import time
from types import TracebackType
from typing import Any

from worker.dev.llm_chat import chat_completion
from worker.dev.llm_embeddings import DEFAULT_EMBEDDING_DIM, embeddings
from worker.dev.llm_errors import ApiError
from worker.dev.llm_faults import Fault, FaultQueues, RateLimit, RateLimits, RequestStats
from worker.dev.llm_http import LocalHTTPServer, Trickle

MODEL_IDS = ("gpt-4o-mini", "gpt-4o", "gpt-4.1-mini", "local-model", "text-embedding-3-small")


def _model(model_id: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": 0, "owned_by": "agentworker-local"}


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
        #: Arguments scripted per model, merged into each of its tool calls.
        self.tool_arguments: dict[str, dict[str, Any]] = {}
        self.rate_limits = RateLimits()
        self.stats = RequestStats()
        self._sequence = 0
        self._sequence_lock = threading.Lock()
        self._httpd: LocalHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> str:
        if self._httpd is not None:
            return self.base_url
        self._httpd = LocalHTTPServer((self.host, self.port), self)
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
            fault = self._before_model_call("chat_completions", body, headers)
            scripted = self.tool_arguments.get(str(body.get("model")))
            return 200, _slowed(chat_completion(body, scripted_arguments=scripted), fault)
        if path == "/v1/embeddings" and method == "POST":
            fault = self._before_model_call("embeddings", body, headers)
            return 200, _slowed(embeddings(body, self.embedding_dim), fault)
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

    def _before_model_call(self, endpoint: str, body: dict[str, Any], headers: Any) -> Fault | None:
        """Count the call, refuse it if over a rate limit, and apply its fault (returned, so
        that a trickle fault can shape the reply)."""
        model = body.get("model")
        self.stats.record(endpoint, model)
        if (wait := self.rate_limits.admit(str(model))) is not None:
            self.stats.record_fault()
            raise ApiError(
                429,
                f"rate limit reached for {model} on the local LLM server; retry after {wait:.3f}s",
                retry_after=f"{wait:.3f}",
            )
        with self._sequence_lock:
            self._sequence += 1
            sequence = self._sequence
        if self.latency_ms:
            time.sleep(self.latency_ms / 1000)
        fault = self._fault_for(str(model), headers.get("X-Fault"), sequence)
        if fault is not None:
            self.stats.record_fault()
            fault.apply()
        return fault

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
        if path == "/_rate_limit" and method == "POST":
            return self._set_rate_limit(body)
        if path == "/_rate_limit" and method == "DELETE":
            self.rate_limits.clear()
            return {"cleared": True}
        if path == "/_rate_limit" and method == "GET":
            return self.rate_limits.snapshot()
        if path == "/_tool_arguments" and method == "POST":
            model, arguments = body.get("model"), body.get("arguments")
            if not isinstance(model, str) or not isinstance(arguments, dict):
                raise ApiError(
                    400, 'POST /_tool_arguments takes {"model": "<name>", "arguments": {...}}'
                )
            self.tool_arguments[model] = arguments
            return {"model": model, "arguments": arguments}
        if path == "/_stats" and method == "GET":
            return self.stats.snapshot()
        if path == "/_stats/reset" and method == "POST":
            self.stats.reset()
            return self.stats.snapshot()
        raise ApiError(
            404,
            f"unknown admin endpoint {method} {path}; use POST/GET/DELETE /_faults, "
            "POST/GET/DELETE /_rate_limit, GET /_stats or POST /_stats/reset",
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

    def _set_rate_limit(self, body: dict[str, Any]) -> dict[str, Any]:
        model = body.get("model", "*")
        try:
            if not isinstance(model, str):
                raise ValueError("model must be a model name or *")
            limit = RateLimit.from_mapping(body)
        except (TypeError, ValueError) as error:
            raise ApiError(
                400,
                f"bad rate limit: {error}; POST /_rate_limit takes "
                '{"model": "<name or *>", "requests": 40, "per_seconds": 60, '
                '"retry_after": [0.6, 1.5]}',
            ) from None
        self.rate_limits.set(model, limit)
        return {"model": model, "requests": limit.requests, "per_seconds": limit.per_seconds}


def _slowed(reply: dict[str, Any], fault: Fault | None) -> object:
    """The reply, trickled out byte by byte if the fault says so."""
    if fault is not None and fault.trickle_ms:
        return Trickle(reply, fault.trickle_ms / 1000)
    return reply


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
