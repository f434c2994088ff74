"""Retry decisions as pure functions: ``decide(error, attempt, policy) -> Decision``.

Retryable: 408, 409, 429, 5xx, timeouts and connection errors. Never retried: 400, 401, 403,
404, 422 and anything that is not a provider error. A ``Retry-After`` is honoured; one longer
than ``policy.defer_threshold`` is not slept at all: the caller defers the run (DESIGN §6).
"""

from __future__ import annotations

import email.utils
import math
import random
import time
from dataclasses import dataclass
from typing import Literal

import openai

RETRYABLE_STATUSES = frozenset({408, 409, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    backoff_initial: float = 0.5
    backoff_max: float = 20.0
    defer_threshold: float = 10.0


@dataclass(frozen=True)
class ErrorInfo:
    kind: str  # "timeout", "connection", "http_429", "http_500", ..., "unexpected"
    retryable: bool
    status_code: int | None
    retry_after: float | None


@dataclass(frozen=True)
class Decision:
    action: Literal["retry", "defer", "fail"]
    wait: float
    reason: str


def classify(error: BaseException) -> ErrorInfo:
    if isinstance(error, openai.APITimeoutError):
        return ErrorInfo("timeout", True, None, None)
    if isinstance(error, openai.APIConnectionError):
        return ErrorInfo("connection", True, None, None)
    if isinstance(error, openai.APIStatusError):
        status = error.status_code
        return ErrorInfo(
            f"http_{status}",
            status in RETRYABLE_STATUSES or status >= 500,
            status,
            retry_after_seconds(error.response.headers),
        )
    return ErrorInfo("unexpected", False, None, None)


def retry_after_seconds(headers: object, now: float | None = None) -> float | None:
    """Seconds from ``retry-after-ms`` or ``retry-after`` (seconds or an HTTP date)."""
    get = getattr(headers, "get", None)
    if get is None:
        return None
    if (millis := _finite(get("retry-after-ms"))) is not None:
        return max(0.0, millis / 1000)
    raw = get("retry-after")
    if raw is None:
        return None
    if (seconds := _finite(raw)) is not None:
        return max(0.0, seconds)
    try:
        parsed = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None  # unreadable: fall back to our own backoff
    return max(0.0, parsed.timestamp() - (time.time() if now is None else now))


def _finite(raw: object) -> float | None:
    try:
        value = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def backoff(attempt: int, policy: RetryPolicy, rng: random.Random) -> float:
    """Exponential backoff with full jitter: uniform(0, min(max, initial * 2^(attempt-1)))."""
    ceiling = min(policy.backoff_max, policy.backoff_initial * 2 ** min(attempt - 1, 60))
    return rng.uniform(0, ceiling)


def decide(
    error: BaseException, attempt: int, policy: RetryPolicy, rng: random.Random | None = None
) -> Decision:
    """What to do after ``attempt`` (1-based) failed with ``error``."""
    info = classify(error)
    if not info.retryable:
        return Decision("fail", 0.0, f"{info.kind} is not retryable")
    if info.retry_after is not None and info.retry_after > policy.defer_threshold:
        return Decision(
            "defer",
            info.retry_after,
            f"provider asked to wait {info.retry_after:g}s (over {policy.defer_threshold:g}s)",
        )
    if attempt >= policy.max_attempts:
        return Decision("fail", 0.0, f"{info.kind}: gave up after {attempt} attempts")
    if info.retry_after is not None:
        reason = f"{info.kind}: Retry-After {info.retry_after:g}s"
        return Decision("retry", info.retry_after, reason)
    return Decision("retry", backoff(attempt, policy, rng or random.Random()), info.kind)
