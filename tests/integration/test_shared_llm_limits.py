"""Provider limits shared through Redis (worker/llm/shared_limiter.py), issue 15 item 4.

The same rules as this process's limiter, checked on both with a clock of the tests' own (the
scripts take it in place of Redis's TIME); then the property that matters across processes:
threads in two processes reserving at once never get more turns, or tokens, than the limit
in any window. Those reservations do not sleep: each turn's start (Redis's clock) is what is
checked, not a timing.
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing
import random
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from worker.core.settings import Settings
from worker.llm.limiter import LIMITERS, WINDOW_SECONDS, ProviderLimiter, RateLimiter, WaitTooLong
from worker.llm.shared_limiter import (
    RedisLimits,
    SharedLimiters,
    SharedProviderLimiter,
    limiters_for,
    redis_keys,
)


class Clock:
    """Time that moves only when someone sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


Make = Callable[..., RateLimiter]


@pytest.fixture(params=["this process", "shared"])
def make(request: pytest.FixtureRequest, clock: Clock) -> Iterator[Make]:
    """A factory of one provider's limiter: this process's, or shared through Redis (then
    each call is another process's view of the same provider)."""
    clients: list[Any] = []

    one: list[RateLimiter] = []

    def local(requests: float = 0, tokens: float = 0, seed: int = 0) -> RateLimiter:
        """This process has one limiter per provider: asked again, the same one."""
        if not one:
            rng = random.Random(seed)
            one.append(
                ProviderLimiter(
                    requests, tokens_per_minute=tokens, clock=clock, sleep=clock.sleep, rng=rng
                )
            )
        one[0].configure(requests, tokens)
        return one[0]

    def shared(requests: float = 0, tokens: float = 0, seed: int = 0) -> RateLimiter:
        client = redis.Redis.from_url(request.getfixturevalue("broker_url"))
        clients.append(client)
        return SharedProviderLimiter(
            RedisLimits(client),
            "https://provider|key",
            requests,
            tokens_per_minute=tokens,
            clock=clock,
            sleep=clock.sleep,
            rng=random.Random(seed),
        )

    yield local if request.param == "this process" else shared
    for client in clients:
        client.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_a_known_request_limit_spaces_the_turns(make: Make, clock: Clock) -> None:
    paced = make(requests=600)  # one every 0.1 s

    waits = [paced.reserve().waited for _ in range(5)]

    assert waits == pytest.approx([0.0, 0.1, 0.1, 0.1, 0.1])


def test_tokens_wait_for_room_in_the_window(make: Make, clock: Clock) -> None:
    limiter = make(tokens=1000)

    first = limiter.reserve(600)
    second = limiter.reserve(600)  # 1200 > 1000: waits until the first leaves the window

    assert first.waited == 0.0
    assert second.waited == pytest.approx(WINDOW_SECONDS)
    assert (first.tokens, second.tokens) == (600, 600)


def test_settling_below_the_estimate_gives_the_rest_back(make: Make, clock: Clock) -> None:
    limiter = make(tokens=1000)
    first = limiter.reserve(900)
    limiter.settle(first, 100)  # the reply used 100 of the 900 reserved

    assert limiter.reserve(800).waited == 0.0
    assert limiter.reserve(200).waited == pytest.approx(WINDOW_SECONDS)


def test_settling_above_the_estimate_counts_the_real_usage(make: Make, clock: Clock) -> None:
    limiter = make(tokens=1000)
    first = limiter.reserve(100)
    limiter.settle(first, 950)

    assert limiter.reserve(100).waited == pytest.approx(WINDOW_SECONDS)


def test_a_call_larger_than_the_limit_waits_for_an_empty_window(make: Make, clock: Clock) -> None:
    limiter = make(tokens=1000)
    limiter.reserve(10)

    big = limiter.reserve(5000)

    assert big.tokens == 1000
    assert big.waited == pytest.approx(WINDOW_SECONDS)


def test_a_429_holds_back_every_view_of_the_provider(make: Make, clock: Clock) -> None:
    mine, theirs = make(seed=1), make(seed=2)
    mine.rate_limited(2.0)

    assert theirs.held_for() == pytest.approx(2.0)
    assert 2.0 <= theirs.reserve().waited <= 3.0  # let go within half the wait after it


def test_a_shorter_429_does_not_shorten_the_hold(make: Make, clock: Clock) -> None:
    limiter = make()
    limiter.rate_limited(3.0)
    limiter.rate_limited(1.0)

    assert limiter.held_for() == pytest.approx(3.0)


def test_a_turn_too_far_is_refused_and_keeps_nothing(make: Make, clock: Clock) -> None:
    limiter = make(requests=60, tokens=1000)
    limiter.reserve(900)

    with pytest.raises(WaitTooLong) as refused:
        limiter.reserve(900, max_wait=5.0)

    assert refused.value.wait == pytest.approx(WINDOW_SECONDS)
    assert clock.sleeps == []
    assert limiter.reserve(100).waited == pytest.approx(1.0)  # the refusal kept no slot


# -- many processes ---------------------------------------------------------------------------


def _reserve_in_threads(
    url: str, requests: float, tokens: float, threads: int, each: int, seed: int
) -> list[tuple[float, int]]:
    """In a child process: ``threads`` threads reserving ``each`` turns, never sleeping;
    the (start, tokens) of every turn given."""
    limiters = SharedLimiters(RedisLimits.from_url(url), sleep=lambda _: None)
    limiter = limiters.get(
        "https://provider|key", requests_per_minute=requests, tokens_per_minute=tokens
    )
    turns: list[tuple[float, int]] = []
    lock = threading.Lock()

    def work(number: int) -> None:
        rng = random.Random(seed * 1000 + number)
        for _ in range(each):
            turn = limiter.reserve(rng.randint(50, 2000) if tokens else 0)
            with lock:
                turns.append((turn.at, turn.tokens))

    workers = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    limiters.redis.client.close()
    return turns


def _in_two_processes(url: str, requests: float, tokens: float) -> list[tuple[float, int]]:
    context = multiprocessing.get_context("spawn")
    with context.Pool(2) as pool:
        results = pool.starmap(
            _reserve_in_threads, [(url, requests, tokens, 8, 25, seed) for seed in (1, 2)]
        )
    return sorted(turn for result in results for turn in result)


def _most_in_any_window(turns: list[tuple[float, int]], weight: Callable[[int], int]) -> int:
    """The largest total over any window of WINDOW_SECONDS (half open, as providers count)."""
    most = 0
    for index, (start, _) in enumerate(turns):
        inside = [t for at, t in turns[: index + 1] if at > start - WINDOW_SECONDS]
        most = max(most, sum(weight(t) for t in inside))
    return most


def test_two_processes_never_get_more_turns_than_the_limit_in_any_window(
    broker_url: str,
) -> None:
    turns = _in_two_processes(broker_url, requests=40, tokens=0)

    assert len(turns) == 400
    assert _most_in_any_window(turns, lambda _: 1) <= 40
    gaps = [b - a for (a, _), (b, _) in itertools.pairwise(turns)]
    assert min(gaps) >= 60 / 40 - 1e-5  # and evenly: 1.5 s apart, whichever process asked


def test_two_processes_never_get_more_tokens_than_the_limit_in_any_window(
    broker_url: str,
) -> None:
    turns = _in_two_processes(broker_url, requests=0, tokens=20_000)

    assert len(turns) == 400
    assert _most_in_any_window(turns, lambda tokens: tokens) <= 20_000
    # and the window is used: the reservations pack into little more than the total needs
    needed = sum(tokens for _, tokens in turns) / 20_000 * WINDOW_SECONDS
    assert turns[-1][0] - turns[0][0] <= needed + WINDOW_SECONDS


# -- wiring -------------------------------------------------------------------------------------


def test_a_redis_broker_shares_the_limits_and_another_broker_does_not(
    broker_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    shared = limiters_for(Settings(broker_url=broker_url))

    assert isinstance(shared, SharedLimiters)
    assert limiters_for(Settings(broker_url=broker_url)) is shared
    with caplog.at_level(logging.INFO, logger="worker.llm.shared_limiter"):
        first = limiters_for(Settings(broker_url="amqp://guest@rabbit//"))
        again = limiters_for(Settings(broker_url="amqp://guest@rabbit//"))
    assert first is again is LIMITERS
    said = [r.getMessage() for r in caplog.records if "per process" in r.getMessage()]
    assert len(said) <= 1  # once per process (an earlier test may have said it already)


def test_without_an_answer_from_redis_the_process_paces_alone(
    caplog: pytest.LogCaptureFixture, clock: Clock
) -> None:
    unreachable = RedisLimits.from_url("redis://127.0.0.1:9/0")  # nothing listens on port 9
    limiter = SharedProviderLimiter(
        unreachable,
        "p",
        600,
        clock=clock,
        sleep=clock.sleep,
        fallback=ProviderLimiter(600, clock=clock, sleep=clock.sleep),
    )
    with caplog.at_level(logging.WARNING, logger="worker.llm.shared_limiter"):
        waits = [limiter.reserve().waited for _ in range(3)]

    assert waits == pytest.approx([0.0, 0.1, 0.1])
    warnings = [r for r in caplog.records if "Redis does not answer" in r.getMessage()]
    assert len(warnings) == 1
    unreachable.client.close()


def test_the_hold_is_a_key_that_expires_with_it(broker_url: str) -> None:
    client = redis.Redis.from_url(broker_url)
    limiter = SharedProviderLimiter(RedisLimits(client), "https://provider|key")
    limiter.rate_limited(2.0)

    ttl_ms = client.pttl(redis_keys("https://provider|key")[2])

    assert 2000 <= ttl_ms <= 2000 + 1000 + 1000  # the hold, its release spread, a margin
    assert 1.5 <= limiter.held_for() <= 2.0
    client.close()


def test_tokens_reserved_while_redis_is_away_are_settled_here(clock: Clock) -> None:
    unreachable = RedisLimits.from_url("redis://127.0.0.1:9/0")
    limiter = SharedProviderLimiter(
        unreachable,
        "p",
        tokens_per_minute=1000,
        clock=clock,
        sleep=clock.sleep,
        fallback=ProviderLimiter(tokens_per_minute=1000, clock=clock, sleep=clock.sleep),
    )
    first = limiter.reserve(900)
    limiter.settle(first, 100)

    assert limiter.reserve(800).waited == 0.0
    assert limiter.reserve(200).waited == pytest.approx(WINDOW_SECONDS)
    unreachable.client.close()
