"""A small real HTTP service that tools with external effects call: the fault campaign and the
soak count there, outside our database, how often each effect reached its service.

It behaves like an external API that takes an ``Idempotency-Key`` header:

- ``POST /notify`` deduplicates by key: the first request with a key is *applied*, a repeat
  with the same key is answered with what the first one did and applied nothing (at-least-once
  delivery is allowed, acting twice is not);
- ``POST /once`` deduplicates nothing: every request is applied (the service behind a tool that
  is not declared idempotent, which must therefore never be called twice for one call).

Each request's body names the logical call it is for (``task_id``, ``tool_call_id``), so a
check can tell "the same call, delivered twice" (fine for ``/notify``) from "one call applied
twice, under two keys" (a repeated side effect)::

    with Sink() as sink:
        env = {SINK_URL_VARIABLE: sink.url}    # for the worker, see tests/support/sink_tools.py
        ...
        assert sink.repeated_effects() == []
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

#: The paths the sink serves: whether each deduplicates by key.
DEDUPLICATING = {"/notify": True, "/once": False}


@dataclass(frozen=True)
class Delivery:
    """One request that reached the sink."""

    path: str
    key: str | None
    body: dict[str, Any]
    applied: bool
    at: float  # time.time()

    @property
    def call(self) -> tuple[str, str, str]:
        """The logical call it is for: (path, task id, tool-call id)."""
        return (self.path, str(self.body.get("task_id")), str(self.body.get("tool_call_id")))


class Sink:
    """The service, on a free port of 127.0.0.1, serving from a daemon thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._deliveries: list[Delivery] = []
        self._applied: dict[tuple[str, str], Delivery] = {}  # (path, key) -> first delivery
        self._server = _Server(("127.0.0.1", 0), _Handler, self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="test-sink",
            daemon=True,
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Sink:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def __enter__(self) -> Sink:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- what the service does -------------------------------------------------------------

    def receive(self, path: str, key: str | None, body: dict[str, Any]) -> tuple[int, Any]:
        """Apply or deduplicate one request; the status and JSON answer for it."""
        if path not in DEDUPLICATING:
            return 404, {"error": f"unknown path {path}; use one of {sorted(DEDUPLICATING)}"}
        with self._lock:
            first = self._applied.get((path, key)) if key and DEDUPLICATING[path] else None
            delivery = Delivery(path, key, body, applied=first is None, at=time.time())
            self._deliveries.append(delivery)
            if first is None and key:
                self._applied.setdefault((path, key), delivery)
        if first is not None:
            return 200, {"applied": False, "duplicate_of": key, "first_at": first.at}
        return 201, {"applied": True, "key": key}

    # -- what the checks read --------------------------------------------------------------

    def deliveries(self) -> list[Delivery]:
        with self._lock:
            return list(self._deliveries)

    def requests_per_key(self) -> Counter[str | None]:
        """Requests per idempotency key, applied or not (repeats are at-least-once delivery)."""
        return Counter(d.key for d in self.deliveries())

    def applied_per_call(self) -> Counter[tuple[str, str, str]]:
        """How many times each logical call was applied: more than one is a repeated effect."""
        return Counter(d.call for d in self.deliveries() if d.applied)

    def repeated_effects(self) -> list[str]:
        """Every logical call the service applied more than once, and every request that came
        without an idempotency key (which no service could deduplicate)."""
        problems = [
            f"{path} call {tool_call_id} of task {task_id} was applied {count} times"
            for (path, task_id, tool_call_id), count in self.applied_per_call().items()
            if count > 1
        ]
        problems += [
            f"{d.path} request for call {d.call[2]} of task {d.call[1]} had no Idempotency-Key"
            for d in self.deliveries()
            if not d.key
        ]
        return problems


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], handler: type, sink: Sink) -> None:
        self.sink = sink
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (its worker was killed mid-request) is routine here."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the soak sends thousands."""

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {"unparsed": raw.decode("utf-8", "replace")}
        if not isinstance(body, dict):
            body = {"unparsed": body}
        status, answer = self.server.sink.receive(
            self.path.split("?", 1)[0], self.headers.get("Idempotency-Key"), body
        )
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
