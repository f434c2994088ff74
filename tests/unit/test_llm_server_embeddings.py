"""The local LLM server's embeddings, driven by the real ``openai`` client over HTTP: unit
vectors in either encoding, closer for texts that share words, of the requested size."""

from __future__ import annotations

import math
from collections.abc import Iterator

import openai
import pytest

from tests.support.local_llm import openai_client
from worker.dev.llm_server import LocalLLMServer


@pytest.fixture(scope="module")
def server() -> Iterator[LocalLLMServer]:
    with LocalLLMServer() as server:
        yield server


@pytest.fixture(scope="module")
def client(server: LocalLLMServer) -> Iterator[openai.OpenAI]:
    with openai_client(server) as client:
        yield client


def _cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def _norm(vector: list[float]) -> float:
    return math.sqrt(sum(x * x for x in vector))


def test_embeddings_in_sdk_default_base64_and_float_are_the_same_unit_vectors(
    server: LocalLLMServer, client: openai.OpenAI
) -> None:
    text = "the venue in Lisbon has 600 seats"
    default = client.embeddings.create(model="text-embedding-3-small", input=text)
    floats = client.embeddings.create(
        model="text-embedding-3-small", input=[text], encoding_format="float"
    )

    vector = default.data[0].embedding
    assert len(vector) == server.embedding_dim
    assert _norm(vector) == pytest.approx(1.0, abs=1e-5)
    assert floats.data[0].embedding == vector
    assert default.usage.prompt_tokens == len(text.split())


def test_embeddings_of_texts_sharing_words_are_closer(client: openai.OpenAI) -> None:
    texts = ["the venue in Lisbon has 600 seats", "Lisbon venue seats", "sponsor tiers and pricing"]
    venue, related, unrelated = (
        item.embedding
        for item in client.embeddings.create(model="text-embedding-3-small", input=texts).data
    )

    assert _cosine(venue, related) > 0.5
    assert _cosine(venue, related) > _cosine(venue, unrelated)


def test_embeddings_honour_requested_dimensions(client: openai.OpenAI) -> None:
    response = client.embeddings.create(
        model="text-embedding-3-small", input=["a b c", "Lisbon"], dimensions=8
    )

    assert [len(item.embedding) for item in response.data] == [8, 8]
    assert all(_norm(item.embedding) == pytest.approx(1.0, abs=1e-5) for item in response.data)


def test_embeddings_of_token_arrays_are_rejected(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="only text input"):
        client.embeddings.create(model="text-embedding-3-small", input=[[1, 2, 3]])
