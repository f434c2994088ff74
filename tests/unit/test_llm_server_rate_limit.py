"""The local LLM server plays a provider's rate limit (``/_rate_limit``) and a reply that
trickles in (the ``trickle_ms`` fault), for the gateway's rate-limit and deadline tests."""

from __future__ import annotations

import random
import time
import urllib.error
from collections.abc import Iterator

import openai
import pytest

from tests.support.local_llm import USER_TEXT, admin, ask, openai_client
from worker.dev.llm_faults import RateLimit, RateLimits
from worker.dev.llm_server import LocalLLMServer


@pytest.fixture
def server() -> Iterator[LocalLLMServer]:
    with LocalLLMServer() as server:
        yield server


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_requests_over_the_limit_are_refused_until_the_window_moves_on() -> None:
    clock = Clock()
    limits = RateLimits(clock, random.Random(0))
    limits.set("*", RateLimit(requests=2, per_seconds=10, retry_after=(0.6, 1.5)))

    first, second, third = (limits.admit("m") for _ in range(3))
    clock.now = 10.0

    assert (first, second) == (None, None)
    assert third is not None and 0.6 <= third <= 1.5
    assert limits.admit("m") is None
    assert limits.snapshot()["refused"] == 1


def test_a_refused_request_does_not_count_against_the_window() -> None:
    clock = Clock()
    limits = RateLimits(clock)
    limits.set("*", RateLimit(requests=1, per_seconds=10))
    limits.admit("m")
    for _ in range(5):
        limits.admit("m")
    clock.now = 10.0

    assert limits.admit("m") is None


def test_a_model_limit_applies_to_that_model_only() -> None:
    limits = RateLimits(Clock())
    limits.set("tight", RateLimit(requests=1, per_seconds=10))
    limits.admit("tight")

    assert limits.admit("tight") is not None
    assert limits.admit("other") is None


def test_over_http_a_refused_request_is_a_429_with_its_retry_after(
    server: LocalLLMServer,
) -> None:
    admin(
        server,
        "POST",
        "/_rate_limit",
        {"model": "*", "requests": 1, "per_seconds": 60, "retry_after": [0.6, 1.5]},
    )
    with openai_client(server) as client:
        ask(client)
        with pytest.raises(openai.RateLimitError) as refused:
            ask(client)

    assert 0.6 <= float(refused.value.response.headers["retry-after"]) <= 1.5
    assert admin(server, "GET", "/_rate_limit")["refused"] == 1


def test_a_cleared_rate_limit_no_longer_refuses(server: LocalLLMServer) -> None:
    admin(server, "POST", "/_rate_limit", {"requests": 1, "per_seconds": 60})
    admin(server, "DELETE", "/_rate_limit")
    with openai_client(server) as client:
        assert ask(client).choices and ask(client).choices


@pytest.mark.parametrize(
    "body",
    [
        {"requests": 0, "per_seconds": 1},
        {"requests": 1},
        {"requests": 1, "per_seconds": 1, "retry_after": [2, 1]},
        {"requests": 1, "per_seconds": 1, "burst": 3},
    ],
)
def test_a_bad_rate_limit_is_refused_with_what_to_send(
    server: LocalLLMServer, body: dict[str, object]
) -> None:
    with pytest.raises(urllib.error.HTTPError) as refused:
        admin(server, "POST", "/_rate_limit", body)

    assert refused.value.code == 400
    assert "per_seconds" in refused.value.read().decode()


def test_a_trickle_fault_sends_the_reply_slowly_but_whole(server: LocalLLMServer) -> None:
    started = time.monotonic()
    with openai_client(server) as client:
        reply = ask(client, extra_headers={"X-Fault": "trickle-ms=2"})

    assert reply.choices[0].message.content == f"Answer to: {USER_TEXT}"
    assert time.monotonic() - started >= 0.2  # a few hundred bytes, 2 ms each


def test_a_trickle_fault_can_be_queued_for_a_model(server: LocalLLMServer) -> None:
    admin(server, "POST", "/_faults", {"model": "slow", "faults": [{"trickle_ms": 1}]})

    assert admin(server, "GET", "/_faults")["pending"]["slow"][0]["trickle_ms"] == 1
