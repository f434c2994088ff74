"""A call's tokens, guessed before it is made, for a tokens-per-minute limit's reservation.

Providers count a request against the limit before they answer, from its size and its
``max_tokens``; we do the same: about four characters a token for what is sent, plus the
completion it may produce. The reply's usage then corrects the reservation
(``RateLimiter.settle``), so a rough guess only delays other callers until the reply.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

CHARS_PER_TOKEN = 4
#: The completion counted when the call sets no ``max_tokens``.
DEFAULT_COMPLETION_TOKENS = 1024


def chat_tokens(
    messages: Sequence[dict[str, Any]],
    tools: Sequence[dict[str, Any]] | None,
    max_tokens: int | None,
) -> int:
    sent = len(json.dumps(list(messages), separators=(",", ":"), default=str))
    if tools:
        sent += len(json.dumps(list(tools), separators=(",", ":"), default=str))
    completion = max_tokens if max_tokens is not None else DEFAULT_COMPLETION_TOKENS
    return -(-sent // CHARS_PER_TOKEN) + completion


def embedding_tokens(texts: Sequence[str]) -> int:
    return -(-sum(len(text) for text in texts) // CHARS_PER_TOKEN)
