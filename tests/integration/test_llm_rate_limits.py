"""The gateway under a provider's rate limit (issue 11, defect 7): 429s have a budget of their
own, persistent ones defer instead of failing, one 429 holds back every caller of the provider,
and a known limit paces the calls. Real HTTP to the local LLM server; timing asserts are lower
bounds only (load can only make things slower)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.local_llm import admin
from worker.core.settings import Settings
from worker.dev.llm_server import LocalLLMServer
from worker.llm.gateway import LLMCallFailed, LLMDeferred, LLMGateway, ProviderConfig
from worker.llm.limiter import Limiters

MESSAGES = [{"role": "user", "content": "hi"}]


@pytest.fixture
def server() -> Iterator[LocalLLMServer]:
    with LocalLLMServer() as server:
        yield server


def gateway(limiters: Limiters | None = None, **settings: Any) -> LLMGateway:
    defaults: dict[str, Any] = {
        "llm_backoff_initial_seconds": 0.01,
        "llm_backoff_max_seconds": 0.05,
    }
    return LLMGateway(Settings(**{**defaults, **settings}), limiters=limiters or Limiters())


def provider(server: LocalLLMServer, **options: Any) -> ProviderConfig:
    return ProviderConfig("test", "test-key", server.base_url, **options)


def program(server: LocalLLMServer, model: str, *faults: dict[str, Any]) -> None:
    admin(server, "POST", "/_faults", {"model": model, "faults": list(faults)})


def test_rate_limits_do_not_use_up_the_attempts_of_real_errors(server: LocalLLMServer) -> None:
    program(server, "m", *[{"status": 429, "retry_after": 0.02}] * 6)
    llm = gateway(llm_max_attempts=2)

    result = llm.chat(provider(server), model="m", messages=MESSAGES)

    assert len(result.attempts) == 7
    assert [a.status_code for a in result.attempts[:6]] == [429] * 6
    llm.close()


def test_real_errors_still_stop_at_max_attempts_between_rate_limits(
    server: LocalLLMServer,
) -> None:
    program(server, "m", {"status": 429, "retry_after": 0.02}, {"status": 500}, {"status": 500})
    llm = gateway(llm_max_attempts=2)

    with pytest.raises(LLMCallFailed) as failure:
        llm.chat(provider(server), model="m", messages=MESSAGES)

    assert "HTTP 500" in str(failure.value)
    assert len(failure.value.attempts) == 3
    llm.close()


def test_a_rate_limit_that_persists_defers_the_call_instead_of_failing_it(
    server: LocalLLMServer,
) -> None:
    program(server, "m", *[{"status": 429, "retry_after": 0.2}] * 50)
    llm = gateway(llm_max_attempts=2, defer_threshold_seconds=1.0)

    with pytest.raises(LLMDeferred) as deferred:
        llm.chat(provider(server), model="m", messages=MESSAGES)

    assert deferred.value.countdown > 0
    assert len(deferred.value.attempts) > 2  # more 429s than max_attempts, and still no failure
    assert "rate limit" in str(deferred.value)
    llm.close()


def test_one_429_holds_back_every_caller_of_the_provider(server: LocalLLMServer) -> None:
    program(server, "first", {"status": 429, "retry_after": 1.0})
    limiters = Limiters()
    llm = gateway(limiters)
    shared = provider(server)
    limiter = limiters.get(shared.cache_key, requests_per_minute=0)
    first = threading.Thread(
        target=llm.chat, args=(shared,), kwargs={"model": "first", "messages": MESSAGES}
    )
    first.start()
    while (held_for := limiter.held_for()) == 0:
        time.sleep(0.005)
    asked_at = time.monotonic()

    llm.chat(shared, model="second", messages=MESSAGES)  # another model, the same provider

    assert held_for >= 0.5  # the first call's 429 asked for 1 s
    assert time.monotonic() - asked_at >= held_for - 0.05
    first.join(timeout=30)
    llm.close()


def test_a_known_limit_paces_the_calls_of_every_thread(server: LocalLLMServer) -> None:
    llm = gateway()
    paced = provider(server, requests_per_minute=600)  # one every 0.1 s
    began = time.monotonic()
    threads = [
        threading.Thread(
            target=llm.chat, args=(paced,), kwargs={"model": "m", "messages": MESSAGES}
        )
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert time.monotonic() - began >= 0.7 - 1e-3
    assert int(admin(server, "GET", "/_stats")["chat_completions"]) == 8
    llm.close()


def test_the_requests_per_minute_setting_paces_providers_without_their_own_limit(
    server: LocalLLMServer,
) -> None:
    llm = gateway(llm_requests_per_minute=600)
    began = time.monotonic()
    for _ in range(4):
        llm.chat(provider(server), model="m", messages=MESSAGES)

    assert time.monotonic() - began >= 0.3 - 1e-3
    llm.close()
