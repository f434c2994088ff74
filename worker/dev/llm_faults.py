"""Fault injection and request counting for the local LLM server.

Tests and benchmarks make the server fail on purpose (an HTTP error status, a ``Retry-After``,
a delay) to exercise the gateway's retry policy: per request with the ``X-Fault`` header, or
queued per model through the ``/_faults`` admin API. ``RequestStats`` counts the model calls and
the faults injected, for ``GET /_stats``. Both are shared by the connection threads, so both lock.
"""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from dataclasses import asdict, dataclass
from typing import Any

from worker.dev.llm_errors import ApiError


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


class RequestStats:
    """Requests per endpoint and per model, and faults injected, since start or the last reset."""

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
