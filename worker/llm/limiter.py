"""One gate per LLM provider: every call of this process to a provider waits its turn here.

A ``ProviderLimiter`` does two things for the provider it guards (by ``ProviderConfig.cache_key``):

- **pacing**: with a known limit (requests per minute), calls start at least ``60 / limit``
  seconds apart, so the worker does not exceed the limit in the first place. Each caller
  reserves the next free slot and sleeps until it; an idle provider's next call goes at once.
- **holding back**: when any call gets a 429, ``rate_limited(wait)`` holds back every caller of
  that provider until the wait is over, and then lets them go at moments spread over half the
  wait again, so one 429 slows the whole process instead of each thread hammering the provider.

A caller whose turn is further away than it may wait (``acquire(max_wait=...)``) is refused
with ``WaitTooLong`` without waiting or keeping a slot: the gateway then defers the run (or
stops at its deadline).

Scope: **one process**. The limiters live in this process's ``LIMITERS`` and are shared by all
its threads and gateways; they are not shared across processes (a worker runs one process with
a threads pool). With several worker processes against one provider, give each its share of
the provider's limit (``AGENTWORKER_LLM_REQUESTS_PER_MINUTE`` = limit / processes); a 429 that
one process gets still holds back only that process.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable

#: Callers held back by a 429 are let go over this fraction of the wait after it ends.
RELEASE_SPREAD = 0.5


class WaitTooLong(Exception):
    """The caller's turn is ``wait`` seconds away, more than it may wait."""

    def __init__(self, wait: float) -> None:
        super().__init__(f"the provider's next free turn is {wait:.2f}s away")
        self.wait = wait


class ProviderLimiter:
    """Paces and holds back the calls to one provider (thread-safe)."""

    def __init__(
        self,
        requests_per_minute: float = 0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._interval = 0.0
        self._last_start = -math.inf  # the latest slot given out
        self._held_until = -math.inf
        self._release_spread = 0.0
        self.configure(requests_per_minute)

    def configure(self, requests_per_minute: float) -> None:
        """Pace to ``requests_per_minute`` from now on (0: no pacing)."""
        with self._lock:
            self._interval = 60.0 / requests_per_minute if requests_per_minute > 0 else 0.0

    def acquire(self, max_wait: float = math.inf) -> float:
        """Wait for this caller's turn; the seconds waited. ``WaitTooLong`` (at once, without
        waiting) if the turn is more than ``max_wait`` seconds away in all."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                start = self._release_at(now)
                if self._interval:
                    start = max(start, self._last_start + self._interval)
                delay = max(0.0, start - now)
                if delay > max_wait - waited:
                    raise WaitTooLong(waited + delay)
                self._last_start = max(start, now)
                if delay == 0:
                    return waited
            self._sleep(delay)
            waited += delay
            with self._lock:
                if self._held_until <= self._clock():
                    return waited
            # A 429 came in while this caller slept: its slot is given up; wait for the hold.

    def rate_limited(self, wait: float) -> None:
        """The provider refused a call and asked for ``wait`` seconds: hold every caller back."""
        with self._lock:
            until = self._clock() + wait
            if until > self._held_until:
                self._held_until = until
                self._release_spread = RELEASE_SPREAD * wait

    def held_for(self) -> float:
        """Seconds left of the hold after the latest 429 (0: no hold now)."""
        with self._lock:
            return max(0.0, self._held_until - self._clock())

    def _release_at(self, now: float) -> float:
        if self._held_until <= now:
            return now
        return self._held_until + self._rng.uniform(0, self._release_spread)


class Limiters:
    """The limiters of one process, one per provider key."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._by_provider: dict[str, ProviderLimiter] = {}

    def get(self, provider_key: str, *, requests_per_minute: float) -> ProviderLimiter:
        """The provider's limiter, paced to ``requests_per_minute`` (0: not paced)."""
        with self._lock:
            limiter = self._by_provider.get(provider_key)
            if limiter is None:
                limiter = ProviderLimiter(requests_per_minute, clock=self._clock, sleep=self._sleep)
                self._by_provider[provider_key] = limiter
                return limiter
        limiter.configure(requests_per_minute)
        return limiter


#: Every gateway of this process shares these.
LIMITERS = Limiters()
