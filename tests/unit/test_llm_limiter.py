"""worker/llm/limiter.py: pacing one provider's calls and holding them all back after a 429.

Most tests run on a clock of their own, where sleeping moves time forward; one runs real
threads through a real clock, asserting only lower bounds (load can only make it slower).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

import pytest

from worker.llm.limiter import Limiters, ProviderLimiter, WaitTooLong


class Clock:
    """Monotonic time that moves only when someone sleeps (or ``on_sleep`` moves it)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self.on_sleep: Callable[[], None] | None = None

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        if self.on_sleep is not None:
            self.on_sleep()


def limiter(clock: Clock, requests_per_minute: float = 0, seed: int = 0) -> ProviderLimiter:
    return ProviderLimiter(
        requests_per_minute, clock=clock, sleep=clock.sleep, rng=random.Random(seed)
    )


def test_without_a_limit_or_a_429_nobody_waits() -> None:
    clock = Clock()
    free = limiter(clock)

    assert [free.acquire() for _ in range(100)] == [0.0] * 100
    assert clock.sleeps == []


def test_a_known_limit_spaces_the_calls_evenly() -> None:
    clock = Clock()
    paced = limiter(clock, requests_per_minute=600)  # one every 0.1 s

    waits = [paced.acquire() for _ in range(5)]

    assert waits == pytest.approx([0.0, 0.1, 0.1, 0.1, 0.1])


def test_an_idle_paced_provider_lets_the_next_call_go_at_once() -> None:
    clock = Clock()
    paced = limiter(clock, requests_per_minute=60)
    paced.acquire()
    clock.now += 5

    assert paced.acquire() == 0.0


def test_a_429_holds_back_every_caller_until_the_wait_is_over() -> None:
    clock = Clock()
    shared = limiter(clock)
    shared.rate_limited(2.0)

    waited = shared.acquire()

    assert 2.0 <= waited <= 3.0


def test_callers_held_back_are_let_go_at_different_moments() -> None:
    clock = Clock()
    shared = limiter(clock)
    shared.rate_limited(2.0)
    waits = []
    for _ in range(20):
        clock.now = 1000.0  # every caller starts waiting the moment the 429 came
        waits.append(shared.acquire())

    assert all(2.0 <= wait <= 3.0 for wait in waits)
    assert len(set(waits)) == 20


def test_a_longer_429_extends_the_hold_and_a_shorter_one_does_not_shorten_it() -> None:
    clock = Clock()
    shared = limiter(clock)
    shared.rate_limited(3.0)
    shared.rate_limited(1.0)

    assert shared.acquire() >= 3.0


def test_a_hold_that_starts_while_a_caller_waits_for_its_slot_makes_it_wait_again() -> None:
    clock = Clock()
    paced = limiter(clock, requests_per_minute=60)  # one a second
    paced.acquire()
    held: list[bool] = []

    def a_429_arrives_meanwhile() -> None:
        if not held:
            held.append(True)
            paced.rate_limited(5.0)

    clock.on_sleep = a_429_arrives_meanwhile

    waited = paced.acquire()

    assert waited >= 6.0  # its slot came after 1 s; the hold then began, for 5 s more
    assert len(clock.sleeps) == 2


def test_a_turn_farther_than_max_wait_is_refused_without_waiting() -> None:
    clock = Clock()
    shared = limiter(clock)
    shared.rate_limited(5.0)

    with pytest.raises(WaitTooLong) as refused:
        shared.acquire(max_wait=1.0)

    assert refused.value.wait >= 5.0
    assert clock.sleeps == []


def test_a_refused_caller_does_not_keep_a_paced_slot() -> None:
    clock = Clock()
    paced = limiter(clock, requests_per_minute=60)
    paced.acquire()
    with pytest.raises(WaitTooLong):
        paced.acquire(max_wait=0.5)

    assert paced.acquire() == pytest.approx(1.0)


def test_the_limit_can_change_while_the_limiter_lives() -> None:
    clock = Clock()
    paced = limiter(clock, requests_per_minute=60)
    paced.acquire()
    paced.configure(requests_per_minute=0)
    clock.now += 1.0

    assert [paced.acquire() for _ in range(3)] == [0.0, 0.0, 0.0]


def test_each_provider_has_one_limiter_and_providers_do_not_hold_each_other_back() -> None:
    clock = Clock()
    limiters = Limiters(clock=clock, sleep=clock.sleep)
    first = limiters.get("https://a|key1", requests_per_minute=0)

    assert limiters.get("https://a|key1", requests_per_minute=0) is first
    first.rate_limited(5.0)
    assert limiters.get("https://b|key2", requests_per_minute=0).acquire() == 0.0


def test_asking_again_with_another_limit_reconfigures_the_same_limiter() -> None:
    clock = Clock()
    limiters = Limiters(clock=clock, sleep=clock.sleep)
    paced = limiters.get("p", requests_per_minute=60)
    paced.acquire()

    assert limiters.get("p", requests_per_minute=600) is paced
    assert paced.acquire() == pytest.approx(0.1)


def test_real_threads_through_a_paced_limiter_take_at_least_the_paced_time() -> None:
    paced = ProviderLimiter(600)  # one every 0.1 s, real clock
    starts: list[float] = []
    lock = threading.Lock()

    def call() -> None:
        paced.acquire()
        with lock:
            starts.append(time.monotonic())

    began = time.monotonic()
    threads = [threading.Thread(target=call) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(starts) == 10
    assert max(starts) - began >= 0.9 - 1e-3


def test_held_for_says_how_long_the_current_hold_lasts() -> None:
    clock = Clock()
    shared = limiter(clock)

    assert shared.held_for() == 0.0
    shared.rate_limited(2.0)
    clock.now += 0.5
    assert shared.held_for() == pytest.approx(1.5)
