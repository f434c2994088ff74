"""When to try a delivery again: a pure function of the attempt number (no broker, no clock).

Exponential backoff with "equal jitter": the n-th retry waits between half and all of
``min(maximum, initial * 2^(n-1))``, so retries of many deliveries that failed together spread
out instead of arriving at the receiver at once.
"""

from __future__ import annotations

import random

__all__ = ["backoff_seconds", "retry_delay"]


def backoff_seconds(
    attempt: int, *, initial: float, maximum: float, rng: random.Random | None = None
) -> float:
    """How long to wait after failed attempt number ``attempt`` (1-based)."""
    if attempt < 1:
        raise ValueError(f"attempt is 1-based, got {attempt}")
    ceiling = min(maximum, initial * 2 ** min(attempt - 1, 62))
    return ceiling / 2 + (rng or random).uniform(0, ceiling / 2)


def retry_delay(
    attempt: int,
    max_attempts: int,
    *,
    initial: float,
    maximum: float,
    rng: random.Random | None = None,
) -> float | None:
    """Seconds until the next attempt after failed attempt ``attempt``, or None: no more."""
    if attempt >= max_attempts:
        return None
    return backoff_seconds(attempt, initial=initial, maximum=maximum, rng=rng)
