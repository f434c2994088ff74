"""Retry decisions as pure functions: ``decide(error, attempt, policy) -> Decision``.

Retryable: 408, 409, 429, 5xx, timeouts and connection errors. Never retried: 400, 401, 403,
404, 422, a 429 that says the quota is exhausted (no wait brings credit back) and anything that
is not a provider error. A ``Retry-After`` is honoured, plus a jitter of up to half as long
again, so that callers told the same wait do not come back together; one longer than
``policy.defer_threshold`` is not slept at all: the caller defers the run (DESIGN §6).

Rate limits (429) have a budget of their own: they never use up the ``max_attempts`` of real
errors (5xx, timeouts). A call waits them out in the worker while its total wait on rate limits
stays within ``defer_threshold``; past that it defers, so a long rate limit frees the worker
slot and never fails the job.
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
    #: Attempts that may end in an error (rate limits are not counted).
    max_attempts: int = 5
    backoff_initial: float = 0.5
    backoff_max: float = 20.0
    #: The longest a call waits in the worker: for one Retry-After, or on rate limits in all.
    defer_threshold: float = 10.0
    #: A Retry-After of r is waited r plus up to this fraction of r (at least of backoff_initial).
    retry_after_jitter: float = 0.5


@dataclass(frozen=True)
class ErrorInfo:
    kind: str  # "timeout", "connection", "http_429", "http_500", ..., "unexpected"
    retryable: bool
    status_code: int | None
    retry_after: float | None

    @property
    def rate_limited(self) -> bool:
        """A 429 that a wait can cure (an exhausted quota is not retryable)."""
        return self.status_code == 429 and self.retryable


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
        if status == 429 and getattr(error, "code", None) == "insufficient_quota":
            return ErrorInfo("insufficient_quota", False, status, None)
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


def jittered(seconds: float, policy: RetryPolicy, rng: random.Random) -> float:
    """``seconds`` plus up to ``retry_after_jitter`` of it (of ``backoff_initial`` if more)."""
    spread = policy.retry_after_jitter * max(seconds, policy.backoff_initial)
    return seconds + rng.uniform(0, spread)


def decide(
    error: BaseException,
    attempt: int,
    policy: RetryPolicy,
    rng: random.Random | None = None,
    *,
    rate_limit_waited: float = 0.0,
) -> Decision:
    """What to do after an attempt failed with ``error``.

    ``attempt`` (1-based) counts the call's failed attempts of the same family, this one
    included: its rate limits for a 429, its other errors otherwise. ``rate_limit_waited`` is
    how long the call has already waited on rate limits."""
    info = classify(error)
    rng = rng or random.Random()
    if not info.retryable:
        return Decision("fail", 0.0, f"{info.kind} is not retryable")
    if info.retry_after is not None and info.retry_after > policy.defer_threshold:
        return Decision(
            "defer",
            jittered(info.retry_after, policy, rng),
            f"provider asked to wait {info.retry_after:g}s (over {policy.defer_threshold:g}s)",
        )
    if info.retry_after is not None:
        wait = jittered(info.retry_after, policy, rng)
        reason = f"{info.kind}: Retry-After {info.retry_after:g}s"
    else:
        wait, reason = backoff(attempt, policy, rng), info.kind
    if info.rate_limited:
        if rate_limit_waited + wait > policy.defer_threshold:
            return Decision(
                "defer",
                wait,
                f"still rate limited after waiting {rate_limit_waited:.1f}s in the worker "
                f"(at most {policy.defer_threshold:g}s); the next wait frees the slot",
            )
        return Decision("retry", wait, reason)
    if attempt >= policy.max_attempts:
        return Decision("fail", 0.0, f"{info.kind}: gave up after {attempt} attempts")
    return Decision("retry", wait, reason)
