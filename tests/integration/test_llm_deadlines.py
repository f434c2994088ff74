"""A hung LLM call is bounded (issue 11, defect 4, the LLM part).

``llm_timeout_seconds`` bounds a whole attempt, not each read: a provider that trickles its
reply a byte at a time is cut off. A call given the run's ``deadline`` starts no attempt and
sleeps no retry past it; it raises ``LLMTimedOut`` (code ``timed_out``) instead.

The gateway talks over real HTTP to the local LLM server, programmed to hang or trickle.
Timing asserts are generous upper bounds against what the unbounded call would take.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.local_llm import admin
from worker.core.settings import Settings
from worker.dev.llm_server import LocalLLMServer
from worker.llm.gateway import LLMCallFailed, LLMDeferred, LLMGateway, LLMTimedOut, ProviderConfig
from worker.llm.limiter import Limiters

MESSAGES = [{"role": "user", "content": "Find venues in Lisbon for 600 people, please"}]


@pytest.fixture
def server() -> Iterator[LocalLLMServer]:
    with LocalLLMServer() as server:
        yield server


def gateway(**settings: Any) -> LLMGateway:
    return LLMGateway(Settings(**settings), limiters=Limiters())


def provider(server: LocalLLMServer) -> ProviderConfig:
    return ProviderConfig("test", "test-key", server.base_url)


def program(server: LocalLLMServer, *faults: dict[str, Any]) -> None:
    admin(server, "POST", "/_faults", {"model": "*", "faults": list(faults)})


def requests(server: LocalLLMServer) -> int:
    return int(admin(server, "GET", "/_stats")["chat_completions"])


def test_a_reply_that_trickles_in_is_cut_off_at_the_attempt_timeout(
    server: LocalLLMServer,
) -> None:
    program(server, {"trickle_ms": 25})  # a ~400-byte reply: ten seconds in all
    llm = gateway(llm_timeout_seconds=1.0, llm_max_attempts=1)
    started = time.monotonic()

    with pytest.raises(LLMCallFailed) as failure:
        llm.chat(provider(server), model="gpt-4o-mini", messages=MESSAGES)

    assert time.monotonic() - started < 5.0
    assert failure.value.attempts[0].error_kind == "timeout"
    llm.close()


def test_a_trickled_reply_that_times_out_is_retried_as_a_timeout(server: LocalLLMServer) -> None:
    program(server, {"trickle_ms": 25})
    llm = gateway(llm_timeout_seconds=1.0, llm_max_attempts=2, llm_backoff_initial_seconds=0)

    result = llm.chat(provider(server), model="gpt-4o-mini", messages=MESSAGES)

    assert [a.error_kind for a in result.attempts] == ["timeout", None]
    llm.close()


def test_a_hung_call_stops_at_the_run_deadline_with_timed_out(server: LocalLLMServer) -> None:
    program(server, {"delay_ms": 30_000})
    llm = gateway(llm_timeout_seconds=60.0)
    started = time.monotonic()

    with pytest.raises(LLMTimedOut) as timed_out:
        llm.chat(provider(server), model="gpt-4o-mini", messages=MESSAGES, deadline=started + 1.0)

    assert time.monotonic() - started < 5.0
    assert timed_out.value.code == "timed_out"
    assert isinstance(timed_out.value, LLMCallFailed)
    assert requests(server) == 1
    llm.close()


def test_no_retry_sleep_runs_past_the_deadline(server: LocalLLMServer) -> None:
    program(server, {"status": 503, "retry_after": 5})
    llm = gateway()
    started = time.monotonic()

    with pytest.raises(LLMTimedOut) as timed_out:
        llm.chat(provider(server), model="gpt-4o-mini", messages=MESSAGES, deadline=started + 2.0)

    assert time.monotonic() - started < 4.0  # it did not sleep the 5 s it was asked to
    assert requests(server) == 1
    assert "deadline" in str(timed_out.value)
    llm.close()


def test_a_rate_limit_wait_past_the_deadline_stops_the_call(server: LocalLLMServer) -> None:
    program(server, {"status": 429, "retry_after": 5})
    llm = gateway()
    started = time.monotonic()

    with pytest.raises(LLMTimedOut):
        llm.chat(provider(server), model="gpt-4o-mini", messages=MESSAGES, deadline=started + 2.0)

    assert time.monotonic() - started < 4.0
    assert requests(server) == 1
    llm.close()


def test_a_deferral_that_would_end_after_the_deadline_times_out_instead(
    server: LocalLLMServer,
) -> None:
    program(server, {"status": 429, "retry_after": 30})  # over the threshold: would defer
    llm = gateway()

    with pytest.raises(LLMTimedOut):
        llm.chat(
            provider(server),
            model="gpt-4o-mini",
            messages=MESSAGES,
            deadline=time.monotonic() + 5.0,
        )
    llm.close()


def test_without_a_deadline_a_long_retry_after_still_defers(server: LocalLLMServer) -> None:
    program(server, {"status": 429, "retry_after": 30})
    llm = gateway()

    with pytest.raises(LLMDeferred) as deferred:
        llm.chat(provider(server), model="gpt-4o-mini", messages=MESSAGES)

    assert deferred.value.countdown >= 30
    llm.close()


def test_no_attempt_starts_once_the_deadline_has_passed(server: LocalLLMServer) -> None:
    llm = gateway()

    with pytest.raises(LLMTimedOut) as timed_out:
        llm.chat(
            provider(server),
            model="gpt-4o-mini",
            messages=MESSAGES,
            deadline=time.monotonic() - 0.1,
        )

    assert requests(server) == 0
    assert timed_out.value.attempts == ()
    llm.close()


def test_a_call_that_ends_before_its_deadline_is_not_affected(server: LocalLLMServer) -> None:
    llm = gateway()

    result = llm.chat(
        provider(server), model="gpt-4o-mini", messages=MESSAGES, deadline=time.monotonic() + 30
    )

    assert result.content
    llm.close()


def test_an_embedding_call_stops_at_the_deadline_too(server: LocalLLMServer) -> None:
    program(server, {"delay_ms": 30_000})
    llm = gateway(llm_timeout_seconds=60.0)
    started = time.monotonic()

    with pytest.raises(LLMTimedOut):
        llm.embed(
            provider(server),
            model="text-embedding-3-small",
            texts=["hello"],
            deadline=started + 1.0,
        )

    assert time.monotonic() - started < 5.0
    llm.close()
