"""A call's tokens guessed before it is sent (worker/llm/token_estimate.py), and a provider's
known limits read from its ai_models row (worker/llm/providers.py)."""

from __future__ import annotations

import pytest

from worker.core.errors import ConfigurationError
from worker.llm import token_estimate
from worker.llm.providers import _per_minute


def test_a_chat_counts_what_it_sends_and_the_completion_it_may_get() -> None:
    messages = [{"role": "user", "content": "x" * 400}]

    with_limit = token_estimate.chat_tokens(messages, None, max_tokens=50)
    without = token_estimate.chat_tokens(messages, None, max_tokens=None)

    assert 100 < with_limit - 50 < 120  # 400 characters and the JSON around them, / 4
    assert without - with_limit == token_estimate.DEFAULT_COMPLETION_TOKENS - 50


def test_tools_count_as_sent() -> None:
    messages = [{"role": "user", "content": "hi"}]
    tools = [{"type": "function", "function": {"name": "f", "description": "d" * 400}}]

    assert (
        token_estimate.chat_tokens(messages, tools, 0)
        > token_estimate.chat_tokens(messages, None, 0) + 100
    )


def test_embeddings_count_their_texts() -> None:
    assert token_estimate.embedding_tokens(["abcd" * 10, "ab"]) == 11


def test_a_row_gives_its_requests_and_tokens_per_minute() -> None:
    config = {"requests_per_minute": 60, "tokens_per_minute": 90_000}

    assert _per_minute("p", config, "requests") == 60.0
    assert _per_minute("p", config, "tokens") == 90_000.0
    assert _per_minute("p", {}, "tokens") is None


@pytest.mark.parametrize("value", ["lots", -1, True])
def test_a_bad_limit_says_what_to_give(value: object) -> None:
    with pytest.raises(ConfigurationError, match="tokens_per_minute") as refused:
        _per_minute("p", {"tokens_per_minute": value}, "tokens")

    assert "a number of tokens a minute" in str(refused.value)
