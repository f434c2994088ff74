"""The gateway on limits shared through the broker's Redis (issue 15 item 4): a call's token
reservation is settled to the reply's usage, and one process's 429 holds back the calls of
another. Real HTTP to the local LLM server, real Redis; each "process" is a gateway with
limiters (and a Redis connection) of its own."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import redis

from tests.support.local_llm import admin
from worker.core.settings import Settings
from worker.dev.llm_server import LocalLLMServer
from worker.llm.gateway import LLMGateway, ProviderConfig
from worker.llm.shared_limiter import RedisLimits, SharedLimiters, redis_keys

MESSAGES = [{"role": "user", "content": "hi there"}]


@pytest.fixture
def server() -> Iterator[LocalLLMServer]:
    with LocalLLMServer() as server:
        yield server


def process_gateway(broker_url: str) -> LLMGateway:
    """What one worker process has: its own gateway, limiters and Redis connection."""
    settings = Settings(
        broker_url=broker_url,
        llm_backoff_initial_seconds=0.01,
        llm_backoff_max_seconds=0.05,
    )
    return LLMGateway(settings, limiters=SharedLimiters(RedisLimits.from_url(broker_url)))


def test_a_gateway_on_a_redis_broker_shares_its_limits_by_default(broker_url: str) -> None:
    gateway = LLMGateway(Settings(broker_url=broker_url))

    assert isinstance(gateway._limiters, SharedLimiters)


def test_a_call_reserves_its_estimate_and_keeps_its_real_usage(
    server: LocalLLMServer, broker_url: str
) -> None:
    gateway = process_gateway(broker_url)
    provider = ProviderConfig("test", "test-key", server.base_url, tokens_per_minute=100_000)

    result = gateway.chat(provider, model="m", messages=MESSAGES, max_tokens=500)

    client = redis.Redis.from_url(broker_url)
    members = client.zrange(redis_keys(provider.cache_key)[1], 0, -1)
    used = result.prompt_tokens + result.completion_tokens
    assert [member.decode().rpartition(":")[2] for member in members] == [str(used)]
    assert used < 500  # the estimate (max_tokens and the prompt) was replaced
    client.close()
    gateway.close()


def test_one_process_429_holds_back_another_process(
    server: LocalLLMServer, broker_url: str
) -> None:
    admin(
        server,
        "POST",
        "/_faults",
        {"model": "first", "faults": [{"status": 429, "retry_after": 1.0}]},
    )
    one, other = process_gateway(broker_url), process_gateway(broker_url)
    provider = ProviderConfig("test", "test-key", server.base_url)
    first = threading.Thread(
        target=one.chat, args=(provider,), kwargs={"model": "first", "messages": MESSAGES}
    )
    first.start()
    other_view = other._limiter(provider)
    deadline = time.monotonic() + 10
    while (held_for := other_view.held_for()) == 0 and time.monotonic() < deadline:
        time.sleep(0.005)
    asked_at = time.monotonic()

    other.chat(provider, model="second", messages=MESSAGES)

    assert held_for >= 0.5  # the first process's 429 asked for 1 s (plus its jitter)
    assert time.monotonic() - asked_at >= held_for - 0.05
    first.join(timeout=30)
    one.close()
    other.close()
