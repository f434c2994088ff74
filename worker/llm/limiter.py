"""One gate per LLM provider: every call to a provider waits its turn here.

A provider's limiter (by ``ProviderConfig.cache_key``) does three things:

- **pacing requests**: with a known limit (requests per minute), calls start at least
  ``60 / limit`` seconds apart, so the worker does not exceed the limit in the first place.
  Each caller reserves the next free slot and sleeps until it; an idle provider's next call
  goes at once.
- **pacing tokens**: with a known tokens-per-minute limit, a call reserves its estimated
  tokens (``reserve(tokens=...)``) and starts when the reservations of the last
  ``WINDOW_SECONDS`` leave room for them: never more than the limit in any window. After the
  reply, ``settle(turn, used)`` replaces the estimate with what the call really used.
- **holding back**: when any call gets a 429, ``rate_limited(wait)`` holds back every caller of
  that provider until the wait is over, and then lets them go at moments spread over half the
  wait again, so one 429 slows everyone instead of each thread hammering the provider.

A caller whose turn is further away than it may wait (``max_wait``) is refused with
``WaitTooLong`` without waiting or keeping a slot: the gateway then defers the run (or stops
at its deadline).

Scope: ``ProviderLimiter`` here is **one process's**. With a Redis broker the gateway uses
``worker.llm.shared_limiter`` instead, the same rules kept in Redis, so that every process on
every host shares one limit and one 429 hold; this one is the fallback when the broker is not
Redis (or Redis does not answer): each process then paces on its own.
"""

from __future__ import annotations

import itertools
import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

#: Callers held back by a 429 are let go over this fraction of the wait after it ends.
RELEASE_SPREAD = 0.5
#: A tokens-per-minute limit holds over any window this long.
WINDOW_SECONDS = 60.0

_ids = itertools.count(1)


class WaitTooLong(Exception):
    """The caller's turn is ``wait`` seconds away, more than it may wait."""

    def __init__(self, wait: float) -> None:
        super().__init__(f"the provider's next free turn is {wait:.2f}s away")
        self.wait = wait


@dataclass(frozen=True)
class Turn:
    """A caller's turn: how long it waited, the tokens it reserved (``key`` names the
    reservation for ``settle``; None when no tokens were reserved) and when the turn began on
    the limiter's clock."""

    waited: float
    tokens: int = 0
    key: str | None = None
    at: float = 0.0


class RateLimiter(Protocol):
    """What the gateway asks of a provider's limiter (this process's, or shared by Redis)."""

    @property
    def limits_tokens(self) -> bool: ...

    def configure(self, requests_per_minute: float, tokens_per_minute: float = 0) -> None: ...

    def reserve(self, tokens: int = 0, max_wait: float = math.inf) -> Turn: ...

    def settle(self, turn: Turn, used: int) -> None: ...

    def rate_limited(self, wait: float) -> None: ...

    def held_for(self) -> float: ...


def token_cost(tokens: int, tokens_per_minute: float) -> int:
    """The tokens a reservation counts: a call larger than the whole limit waits for an empty
    window (it could never fit otherwise)."""
    if tokens_per_minute <= 0:
        return 0
    return max(0, min(int(tokens), int(tokens_per_minute)))


class ProviderLimiter:
    """Paces and holds back the calls of this process to one provider (thread-safe)."""

    def __init__(
        self,
        requests_per_minute: float = 0,
        *,
        tokens_per_minute: float = 0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._interval = 0.0
        self._tokens_per_minute = 0.0
        self._last_start = -math.inf  # the latest slot given out
        self._held_until = -math.inf
        self._release_spread = 0.0
        #: Token reservations, in the order of their start: key -> [start, tokens].
        self._reserved: dict[str, list[float]] = {}
        self.configure(requests_per_minute, tokens_per_minute)

    @property
    def limits_tokens(self) -> bool:
        return self._tokens_per_minute > 0

    def configure(self, requests_per_minute: float, tokens_per_minute: float = 0) -> None:
        """Pace to these limits from now on (0: that one is not paced)."""
        with self._lock:
            self._interval = 60.0 / requests_per_minute if requests_per_minute > 0 else 0.0
            self._tokens_per_minute = max(0.0, tokens_per_minute)

    def acquire(self, max_wait: float = math.inf) -> float:
        """Wait for this caller's turn; the seconds waited. ``WaitTooLong`` (at once, without
        waiting) if the turn is more than ``max_wait`` seconds away in all."""
        return self.reserve(0, max_wait).waited

    def reserve(self, tokens: int = 0, max_wait: float = math.inf) -> Turn:
        """Wait for a turn that may use ``tokens`` (an estimate; see ``settle``)."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                cost = token_cost(tokens, self._tokens_per_minute)
                start = self._release_at(now)
                if self._interval:
                    start = max(start, self._last_start + self._interval)
                if cost:
                    start = self._token_start(now, start, cost)
                delay = max(0.0, start - now)
                if delay > max_wait - waited:
                    raise WaitTooLong(waited + delay)
                start = self._last_start = max(start, now)
                key = None
                if cost:
                    key = str(next(_ids))
                    self._reserved[key] = [start, float(cost)]
                if delay == 0:
                    return Turn(waited, cost, key, start)
            self._sleep(delay)
            waited += delay
            with self._lock:
                if self._held_until <= self._clock():
                    return Turn(waited, cost, key, start)
                if key is not None:
                    self._reserved.pop(key, None)
            # A 429 came in while this caller slept: its slot is given up; wait for the hold.

    def settle(self, turn: Turn, used: int) -> None:
        """The call of ``turn`` used ``used`` tokens in fact: count those instead."""
        if turn.key is None:
            return
        with self._lock:
            entry = self._reserved.get(turn.key)
            if entry is not None:
                entry[1] = float(max(0, used))

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

    def _token_start(self, now: float, start: float, cost: int) -> float:
        """The earliest start from ``start`` on at which the window before it leaves room for
        ``cost`` tokens. Reservations start in order, so later windows hold as well."""
        for key in [k for k, (at, _) in self._reserved.items() if at <= now - WINDOW_SECONDS]:
            del self._reserved[key]
        entries = list(self._reserved.values())
        if entries:
            start = max(start, entries[-1][0])
        inside = [(at, used) for at, used in entries if at > start - WINDOW_SECONDS]
        total = sum(used for _, used in inside)
        for at, used in inside:
            if total + cost <= self._tokens_per_minute:
                break
            start = at + WINDOW_SECONDS
            total -= used
        return start


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
        self._by_provider: dict[str, RateLimiter] = {}

    def get(
        self, provider_key: str, *, requests_per_minute: float, tokens_per_minute: float = 0
    ) -> RateLimiter:
        """The provider's limiter, paced to these limits (0: not paced)."""
        with self._lock:
            limiter = self._by_provider.get(provider_key)
            if limiter is None:
                limiter = self._new(provider_key, requests_per_minute, tokens_per_minute)
                self._by_provider[provider_key] = limiter
                return limiter
        limiter.configure(requests_per_minute, tokens_per_minute)
        return limiter

    def _new(self, provider_key: str, requests: float, tokens: float) -> RateLimiter:
        return ProviderLimiter(
            requests, tokens_per_minute=tokens, clock=self._clock, sleep=self._sleep
        )


#: This process's limiters, for gateways without a shared (Redis) store.
LIMITERS = Limiters()
