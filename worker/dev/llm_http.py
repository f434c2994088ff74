"""The local LLM server's HTTP layer: JSON in, JSON out, over real keep-alive connections.

A threading ``http.server`` (one thread per connection, as many as the benchmarks open) that
reads a JSON body, hands ``(method, path, headers, body)`` to the application and writes back
its status and JSON payload; an ``ApiError`` becomes an OpenAI-style error response. A payload
wrapped in ``Trickle`` is sent one byte at a time (a provider that never quite stops sending).
It knows no routes: those are the application's (``LocalLLMServer.handle``).
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Protocol

from worker.dev.llm_errors import ApiError


class JSONApplication(Protocol):
    """What the HTTP layer serves: a status and a JSON-serialisable payload per request."""

    def handle(
        self, method: str, raw_path: str, headers: Any, body: dict[str, Any]
    ) -> tuple[int, object]: ...


@dataclass(frozen=True)
class Trickle:
    """A payload whose body goes out one byte every ``seconds_per_byte``."""

    payload: object
    seconds_per_byte: float


class LocalHTTPServer(ThreadingHTTPServer):
    """Serves ``app``; tracks open connections so that stopping does not wait on idle ones."""

    daemon_threads = True
    request_queue_size = 1024
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], app: JSONApplication) -> None:
        self.app = app
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _JSONHandler)

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


class _JSONHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "agentworker-local-llm"
    disable_nagle_algorithm = True
    server: LocalHTTPServer

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
        pause = payload.seconds_per_byte if isinstance(payload, Trickle) else 0.0
        data = json.dumps(payload.payload if isinstance(payload, Trickle) else payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if not pause:
            self.wfile.write(data)
            return
        self.wfile.flush()
        for index in range(len(data)):
            self.wfile.write(data[index : index + 1])
            self.wfile.flush()
            time.sleep(pause)
