"""Provider limits shared by every worker process and host, kept in the broker's Redis.

The same rules as ``worker.llm.limiter.ProviderLimiter`` (pace requests, pace tokens over a
sliding window, hold everyone back after a 429), but the state lives in Redis and each
reservation is one atomic Lua script, so concurrent reservations from any number of
processes never admit more than the limit:

- requests: a GCRA with no burst, ``…:req`` holding the next free start (calls start at least
  ``60 / limit`` seconds apart);
- tokens: a sliding window of reservations, ``…:tok`` a sorted set of ``id:tokens`` by start;
  a reservation starts when the window before it leaves room (reservations start in order, so
  the later windows hold too), and ``settle`` swaps the estimate for the tokens used;
- a 429: ``…:hold`` (until, spread), expiring with the hold, read by every reservation.

Time is Redis's own (``TIME``), so hosts whose clocks disagree still share one schedule; each
caller sleeps its delay on its own clock. When Redis does not answer, a call falls back to this
process's limiter (logged once per outage) rather than fail: the provider's 429s and the hold
then still pace it.
"""

from __future__ import annotations

import hashlib
import logging
import math
import random
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from worker.core.settings import Settings
from worker.llm.limiter import (
    LIMITERS,
    RELEASE_SPREAD,
    WINDOW_SECONDS,
    Limiters,
    ProviderLimiter,
    RateLimiter,
    Turn,
    WaitTooLong,
    token_cost,
)

log = logging.getLogger(__name__)

KEY_PREFIX = "agentworker:llm-limits"
#: After Redis failed, calls use this process's limiter this long before trying it again.
RETRY_REDIS_SECONDS = 5.0
#: Waits longer than this are refused as if infinite (Lua has no portable "inf").
_FOREVER = 1e12
#: A provider with no known limit reads the shared 429 hold at most this often per process
#: (a Redis round trip per call would cost more than pacing nothing is worth).
HOLD_POLL_SECONDS = 0.1
#: Marks a turn this process's limiter gave while Redis did not answer.
_LOCAL = "local:"

_NOW = """
local function now_of(raw)
  if raw ~= '' then return tonumber(raw) end
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local function ttl_ms(seconds) return math.max(1000, math.ceil(seconds * 1000) + 1000) end
"""

#: KEYS: req, tok, hold. ARGV: interval, tokens_per_minute, window, cost, max_wait, release
#: fraction (0..1), reservation id, now ('' = Redis TIME).
#: Returns {1, delay, start} (granted) or {0, delay} (refused, nothing kept).
RESERVE = (
    _NOW
    + """
local interval, tpm, window = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local cost, max_wait, u = tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local now = now_of(ARGV[8])
local start = now
local hold = redis.call('HMGET', KEYS[3], 'until', 'spread')
if hold[1] and tonumber(hold[1]) > now then
  start = tonumber(hold[1]) + u * tonumber(hold[2] or '0')
end
if interval > 0 then
  local next_free = redis.call('GET', KEYS[1])
  if next_free then start = math.max(start, tonumber(next_free)) end
end
if cost > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', string.format('%.6f', now - window))
  local last = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
  if last[2] then start = math.max(start, tonumber(last[2])) end
  local inside = redis.call('ZRANGEBYSCORE', KEYS[2], string.format('(%.6f', start - window),
    '+inf', 'WITHSCORES')
  local total = 0
  for i = 1, #inside, 2 do total = total + tonumber(string.match(inside[i], ':(%d+)$')) end
  local i = 1
  while total + cost > tpm and i <= #inside do
    start = tonumber(inside[i + 1]) + window
    total = total - tonumber(string.match(inside[i], ':(%d+)$'))
    i = i + 2
  end
end
local delay = math.max(0, start - now)
if delay > max_wait then return {0, string.format('%.6f', delay)} end
start = math.max(start, now)
if interval > 0 then
  redis.call('SET', KEYS[1], string.format('%.6f', start + interval),
    'PX', ttl_ms(start + interval - now))
end
if cost > 0 then
  local member = ARGV[7] .. ':' .. string.format('%d', cost)
  redis.call('ZADD', KEYS[2], string.format('%.6f', start), member)
  redis.call('PEXPIRE', KEYS[2], ttl_ms(start - now + window))
end
return {1, string.format('%.6f', delay), string.format('%.6f', start)}
"""
)

#: KEYS: tok. ARGV: reservation id, old tokens, new tokens.
SETTLE = """
local old = ARGV[1] .. ':' .. ARGV[2]
local at = redis.call('ZSCORE', KEYS[1], old)
if not at then return 0 end
redis.call('ZREM', KEYS[1], old)
if tonumber(ARGV[3]) > 0 then redis.call('ZADD', KEYS[1], at, ARGV[1] .. ':' .. ARGV[3]) end
return 1
"""

#: KEYS: hold. ARGV: wait, spread, now. A longer hold extends it; a shorter one does not
#: shorten it.
HOLD = (
    _NOW
    + """
local now = now_of(ARGV[3])
local until_at = now + tonumber(ARGV[1])
local held = redis.call('HGET', KEYS[1], 'until')
if held and tonumber(held) >= until_at then return 0 end
redis.call('HSET', KEYS[1], 'until', string.format('%.6f', until_at), 'spread', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ttl_ms(tonumber(ARGV[1]) + tonumber(ARGV[2])))
return 1
"""
)

#: KEYS: hold. ARGV: now. Seconds left of the hold.
HELD_FOR = (
    _NOW
    + """
local held = redis.call('HGET', KEYS[1], 'until')
if not held then return '0' end
return string.format('%.6f', math.max(0, tonumber(held) - now_of(ARGV[1])))
"""
)


class RedisLimits:
    """The scripts, registered once on one Redis client (thread-safe, shared)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.reserve = client.register_script(RESERVE)
        self.settle = client.register_script(SETTLE)
        self.hold = client.register_script(HOLD)
        self.held_for = client.register_script(HELD_FOR)

    @classmethod
    def from_url(cls, url: str, ca_file: str | None = None) -> RedisLimits:
        import redis

        from worker.core.broker_tls import broker_ssl_options

        options = broker_ssl_options(url, ca_file) or {}
        client = redis.Redis.from_url(
            url, socket_timeout=2.0, socket_connect_timeout=2.0, **options
        )
        return cls(client)


def redis_keys(provider_key: str) -> tuple[str, str, str]:
    """The provider's keys (its key hashed: a base URL may hold credentials); one hash tag,
    so that a Redis Cluster keeps them on one node."""
    digest = hashlib.sha256(provider_key.encode()).hexdigest()[:24]
    base = f"{KEY_PREFIX}:{{{digest}}}"
    return f"{base}:req", f"{base}:tok", f"{base}:hold"


class SharedProviderLimiter:
    """One provider's limits, shared through Redis by every process (thread-safe)."""

    def __init__(
        self,
        limits: RedisLimits,
        provider_key: str,
        requests_per_minute: float = 0,
        *,
        tokens_per_minute: float = 0,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        fallback: ProviderLimiter | None = None,
    ) -> None:
        self._limits = limits
        self._keys = redis_keys(provider_key)
        self._clock = clock  # None: Redis's TIME (tests give a clock of their own)
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._down_until = -math.inf
        self._fallback = fallback or ProviderLimiter(sleep=sleep)
        self._interval = 0.0
        self._tokens_per_minute = 0.0
        self._hold_read_at = -math.inf
        self._hold_seen = 0.0
        self.configure(requests_per_minute, tokens_per_minute)

    @property
    def limits_tokens(self) -> bool:
        return self._tokens_per_minute > 0

    def configure(self, requests_per_minute: float, tokens_per_minute: float = 0) -> None:
        self._interval = 60.0 / requests_per_minute if requests_per_minute > 0 else 0.0
        self._tokens_per_minute = max(0.0, tokens_per_minute)
        self._fallback.configure(requests_per_minute, tokens_per_minute)

    def acquire(self, max_wait: float = math.inf) -> float:
        return self.reserve(0, max_wait).waited

    def reserve(self, tokens: int = 0, max_wait: float = math.inf) -> Turn:
        cost = token_cost(tokens, self._tokens_per_minute)
        if not self._interval and not cost and self._polled_hold() <= 0:
            return Turn(0.0)
        waited = 0.0
        while True:
            reservation = uuid.uuid4().hex[:16]
            args = [
                f"{self._interval:.6f}",
                f"{self._tokens_per_minute:.0f}",
                f"{WINDOW_SECONDS:g}",
                str(cost),
                f"{min(max_wait - waited, _FOREVER):.6f}",
                f"{self._rng.random():.6f}",
                reservation,
                self._now(),
            ]
            answer = self._redis(self._limits.reserve, self._keys, args)
            if answer is None:
                turn = self._fallback.reserve(tokens, max_wait - waited)
                key = None if turn.key is None else _LOCAL + turn.key
                return Turn(waited + turn.waited, turn.tokens, key, turn.at)
            granted, delay = int(answer[0]), float(answer[1])
            if not granted:
                raise WaitTooLong(waited + delay)
            key, at = (reservation if cost else None), float(answer[2])
            if delay <= 0:
                return Turn(waited, cost, key, at)
            self._sleep(delay)
            waited += delay
            if self.held_for() <= 0:
                return Turn(waited, cost, key, at)
            # A 429 came in while this caller slept: give its tokens back, wait for the hold.
            self.settle(Turn(waited, cost, key), 0)

    def settle(self, turn: Turn, used: int) -> None:
        if turn.key is None:
            return
        if turn.key.startswith(_LOCAL):  # reserved here while Redis did not answer
            local = Turn(turn.waited, turn.tokens, turn.key.removeprefix(_LOCAL), turn.at)
            self._fallback.settle(local, used)
            return
        args = [turn.key, str(turn.tokens), str(max(0, int(used)))]
        self._redis(self._limits.settle, self._keys[1:2], args)

    def rate_limited(self, wait: float) -> None:
        self._fallback.rate_limited(wait)
        args = [f"{wait:.6f}", f"{RELEASE_SPREAD * wait:.6f}", self._now()]
        self._redis(self._limits.hold, self._keys[2:], args)
        with self._lock:
            self._hold_read_at = -math.inf  # this process's next call reads the hold again

    def held_for(self) -> float:
        answer = self._redis(self._limits.held_for, self._keys[2:], [self._now()])
        if answer is None:
            return self._fallback.held_for()
        return float(answer)

    def _polled_hold(self) -> float:
        """``held_for()``, read from Redis at most every ``HOLD_POLL_SECONDS``."""
        now = time.monotonic()
        with self._lock:
            if now - self._hold_read_at < HOLD_POLL_SECONDS:
                return max(0.0, self._hold_seen - (now - self._hold_read_at))
        held = self.held_for()
        with self._lock:
            self._hold_read_at, self._hold_seen = now, held
        return held

    def _now(self) -> str:
        return "" if self._clock is None else f"{self._clock():.6f}"

    def _redis(self, script: Any, keys: Any, args: list[str]) -> Any:
        """The script's answer; None while Redis does not answer (this process's limiter
        stands in, and Redis is tried again after ``RETRY_REDIS_SECONDS``)."""
        import redis

        if time.monotonic() < self._down_until:
            return None
        try:
            return script(keys=list(keys), args=args)
        except redis.RedisError as error:
            with self._lock:
                if time.monotonic() >= self._down_until:
                    log.warning(
                        "LLM rate limits: Redis does not answer (%s); this process paces its "
                        "calls on its own for %.0fs, then tries Redis again",
                        error,
                        RETRY_REDIS_SECONDS,
                    )
                self._down_until = time.monotonic() + RETRY_REDIS_SECONDS
            return None


class SharedLimiters(Limiters):
    """Every provider's limiter, shared through one Redis."""

    def __init__(
        self,
        limits: RedisLimits,
        *,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(sleep=sleep)
        self.redis = limits
        self._redis_clock = clock

    def _new(self, provider_key: str, requests: float, tokens: float) -> RateLimiter:
        return SharedProviderLimiter(
            self.redis,
            provider_key,
            requests,
            tokens_per_minute=tokens,
            clock=self._redis_clock,
            sleep=self._sleep,
        )


REDIS_SCHEMES = ("redis://", "rediss://", "unix://")
_shared: dict[str, SharedLimiters] = {}
_shared_lock = threading.Lock()
_said_per_process: set[str] = set()


def redis_url_of(broker_url: str | None) -> str | None:
    """The broker's Redis (the first of failover URLs); None when the broker is not Redis."""
    first = (broker_url or "").split(";")[0].strip()
    return first if first.startswith(REDIS_SCHEMES) else None


def limiters_for(settings: Settings) -> Limiters:
    """The limiters a gateway with ``settings`` shares: through the broker's Redis, one per
    Redis URL in this process; else this process's own (said once)."""
    url = redis_url_of(settings.broker_url)
    if url is None:
        scheme = (settings.broker_url or "").partition(":")[0] or "none set"
        with _shared_lock:
            if scheme not in _said_per_process:
                _said_per_process.add(scheme)
                log.info(
                    "LLM rate limits are per process: the broker (%s) is not Redis, so each "
                    "worker process paces its calls and holds back after a 429 on its own; "
                    "give each process its share of a provider's limit",
                    scheme,
                )
        return LIMITERS
    with _shared_lock:
        limiters = _shared.get(url)
        if limiters is None:
            # The broker's CA file is a Celery setting (celeryconfig), read where it is defined.
            import celeryconfig

            ca_file = celeryconfig.agentworker_broker_ca_file
            limiters = SharedLimiters(RedisLimits.from_url(url, ca_file))
            _shared[url] = limiters
        return limiters
