"""Fault injection and request counting for the local LLM server.

Tests and benchmarks make the server fail on purpose (an HTTP error status, a ``Retry-After``,
a delay, a reply that trickles out byte by byte) to exercise the gateway's retry policy and its
deadlines: per request with the ``X-Fault`` header, or queued per model through the ``/_faults``
admin API. ``RateLimits`` plays a provider's rate limit (so many requests per window, then 429
with a ``Retry-After``), set through ``/_rate_limit``. ``RequestStats`` counts the model calls and
the faults injected, for ``GET /_stats``. All are shared by the connection threads, so all lock.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from worker.dev.llm_errors import ApiError


@dataclass(frozen=True)
class Fault:
    status: int | None = None
    retry_after: float | None = None
    delay_ms: float = 0
    #: Send the reply's body one byte every this many milliseconds (a server that trickles).
    trickle_ms: float = 0

    @classmethod
    def from_mapping(cls, raw: dict[str, Any]) -> Fault:
        unknown = set(raw) - {"status", "retry_after", "delay_ms", "trickle_ms"}
        if unknown:
            raise ValueError(
                f"unknown fault keys {sorted(unknown)}; use status, retry_after, delay_ms, "
                "trickle_ms"
            )
        fault = cls(
            status=None if raw.get("status") is None else int(raw["status"]),
            retry_after=None if raw.get("retry_after") is None else float(raw["retry_after"]),
            delay_ms=float(raw.get("delay_ms") or 0),
            trickle_ms=float(raw.get("trickle_ms") or 0),
        )
        if fault.status is not None and not 400 <= fault.status <= 599:
            raise ValueError(
                f"fault status must be an HTTP error status 400..599, got {fault.status}"
            )
        if min(fault.delay_ms, fault.trickle_ms, fault.retry_after or 0) < 0:
            raise ValueError("delay_ms, trickle_ms and retry_after must not be negative")
        return fault

    @classmethod
    def from_header(cls, header: str) -> Fault:
        """Parse ``X-Fault: status=429; retry-after=2; delay-ms=300; trickle-ms=100``."""
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


@dataclass(frozen=True)
class RateLimit:
    """A provider's limit: at most ``requests`` accepted in any ``per_seconds`` window; a
    request over it is answered 429 with a ``Retry-After`` drawn from ``retry_after`` (low,
    high) seconds. Refused requests do not count against the window."""

    requests: int
    per_seconds: float
    retry_after: tuple[float, float] = (1.0, 1.0)

    @classmethod
    def from_mapping(cls, raw: dict[str, Any]) -> RateLimit:
        unknown = set(raw) - {"model", "requests", "per_seconds", "retry_after"}
        if unknown:
            raise ValueError(
                f"unknown rate limit keys {sorted(unknown)}; use model, requests, per_seconds, "
                "retry_after"
            )
        if "requests" not in raw or "per_seconds" not in raw:
            raise ValueError('a rate limit needs "requests" and "per_seconds"')
        wait = raw.get("retry_after", 1.0)
        low, high = (wait, wait) if isinstance(wait, int | float) else wait
        limit = cls(int(raw["requests"]), float(raw["per_seconds"]), (float(low), float(high)))
        if limit.requests < 1 or limit.per_seconds <= 0:
            raise ValueError("requests must be at least 1 and per_seconds more than 0")
        if not 0 <= low <= high:
            raise ValueError("retry_after must be seconds, or [low, high] with 0 <= low <= high")
        return limit


class RateLimits:
    """The rate limits in force, per model name (``*``: one window shared by every model)."""

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, rng: random.Random | None = None
    ) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._rng = rng or random.Random()
        self._limits: dict[str, RateLimit] = {}
        self._accepted: dict[str, deque[float]] = {}
        self._refused = 0

    def set(self, model: str, limit: RateLimit) -> None:
        with self._lock:
            self._limits[model] = limit
            self._accepted[model] = deque()

    def clear(self) -> None:
        with self._lock:
            self._limits.clear()
            self._accepted.clear()
            self._refused = 0

    def admit(self, model: str) -> float | None:
        """None if the request may go on; else the Retry-After (seconds) to refuse it with."""
        with self._lock:
            key = model if model in self._limits else "*"
            limit = self._limits.get(key)
            if limit is None:
                return None
            now, accepted = self._clock(), self._accepted[key]
            while accepted and accepted[0] <= now - limit.per_seconds:
                accepted.popleft()
            if len(accepted) < limit.requests:
                accepted.append(now)
                return None
            self._refused += 1
            return self._rng.uniform(*limit.retry_after)

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "limits": {model: asdict(limit) for model, limit in self._limits.items()},
                "refused": self._refused,
            }


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
