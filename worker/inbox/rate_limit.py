"""Sign-in attempts limited per email and per client address (a sliding window, in memory).

A failed attempt counts against both keys; once either has ``limit`` failures in the last
``window_seconds``, further attempts are refused before any password is checked, until the
oldest failure leaves the window. Per API process: several processes each keep their own.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

__all__ = ["SignInLimiter"]


class SignInLimiter:
    def __init__(
        self,
        limit: int = 5,
        window_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self.window_seconds = window_seconds
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, *keys: str) -> float:
        """Seconds until an attempt for ``keys`` is allowed again (0: allowed now)."""
        now = self._clock()
        wait = 0.0
        with self._lock:
            for key in keys:
                failures = self._trimmed(key, now)
                if len(failures) >= self.limit:
                    wait = max(wait, failures[0] + self.window_seconds - now)
        return wait

    def failed(self, *keys: str) -> None:
        now = self._clock()
        with self._lock:
            for key in keys:
                self._trimmed(key, now).append(now)
            if len(self._failures) > 10_000:  # forget keys whose failures have all expired
                for key in [
                    k
                    for k, v in self._failures.items()
                    if not v or v[-1] < now - self.window_seconds
                ]:
                    del self._failures[key]

    def _trimmed(self, key: str, now: float) -> deque[float]:
        failures = self._failures.setdefault(key, deque())
        while failures and failures[0] <= now - self.window_seconds:
            failures.popleft()
        return failures
