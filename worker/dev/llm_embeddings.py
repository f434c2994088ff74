"""The local LLM server's deterministic embeddings, close enough to real ones for RAG tests.

A text's vector is a hashed bag of its words (stopwords left out), L2-normalised, so texts that
share words are near in cosine and retrieval tests rank the way a reader expects, with no model.
Answers ``float`` or ``base64`` encodings as the OpenAI API does; tokens are counted as words.
"""

from __future__ import annotations

import base64
import hashlib
import math
import re
import struct
from typing import Any

from worker.dev.llm_errors import ApiError

DEFAULT_EMBEDDING_DIM = 1536
STOPWORDS = frozenset(
    {"the", "a", "an", "of", "to", "in", "and", "is", "what", "which", "for", "on", "with", "by"}
    | {"at", "it", "this", "that", "be", "are", "was", "how", "do", "does"}
)
_WORD = re.compile(r"[a-z0-9]+")


def embed(text: str, dimensions: int) -> list[float]:
    """A hashed bag of words, L2-normalised: texts that share words are near in cosine."""
    vector = [0.0] * dimensions
    for token in _WORD.findall(text.lower()):
        if token in STOPWORDS:
            continue
        digest = int.from_bytes(hashlib.blake2b(token.encode(), digest_size=8).digest(), "little")
        vector[(digest >> 1) % dimensions] += 1.0 if digest & 1 else -1.0
    norm = math.sqrt(sum(v * v for v in vector))
    if norm == 0:
        return [1 / math.sqrt(dimensions)] * dimensions
    return [v / norm for v in vector]


def _embedding_inputs(raw: object) -> list[str]:
    if isinstance(raw, str):
        return [raw]
    if isinstance(raw, list) and raw and all(isinstance(item, str) for item in raw):
        return raw
    raise ApiError(
        400,
        "'input' must be a string or a non-empty list of strings; the local LLM server supports "
        "only text input, not token arrays",
        param="input",
    )


def embeddings(body: dict[str, Any], default_dimensions: int) -> dict[str, Any]:
    """The deterministic answer to an embeddings request body."""
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise ApiError(400, "you must provide a model parameter", param="model")
    texts = _embedding_inputs(body.get("input"))
    dimensions = body.get("dimensions") or default_dimensions
    if not isinstance(dimensions, int) or dimensions < 1:
        raise ApiError(400, "'dimensions' must be a positive integer", param="dimensions")
    encoding = body.get("encoding_format") or "float"
    if encoding not in ("float", "base64"):
        raise ApiError(
            400, "'encoding_format' must be 'float' or 'base64'", param="encoding_format"
        )
    data = []
    for index, text in enumerate(texts):
        packed = struct.pack(f"<{dimensions}f", *embed(text, dimensions))
        vector: object = (
            base64.b64encode(packed).decode()
            if encoding == "base64"
            else list(struct.unpack(f"<{dimensions}f", packed))
        )
        data.append({"object": "embedding", "index": index, "embedding": vector})
    tokens = sum(len(text.split()) for text in texts)
    return {
        "object": "list",
        "data": data,
        "model": body["model"],
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }
