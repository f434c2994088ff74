"""worker.agents.knowledge.chunk_text: whitespace-cut windows with a repeated tail."""

from __future__ import annotations

import itertools

import pytest

from worker.agents.knowledge import KnowledgeInputError, chunk_text
from worker.core.errors import AgentWorkerError

# Distinct words of varied length, so every chunk maps back to a range of word positions.
WORDS = [f"w{i}" + "x" * (i * 7 % 11) for i in range(300)]
TEXT = " ".join(WORDS)
POSITION = {word: index for index, word in enumerate(WORDS)}
LAYOUTS = [(40, 0), (40, 10), (80, 30), (120, 60), (200, 150), (800, 100)]


def spans(chunks: list[str]) -> list[tuple[int, int]]:
    """(first, last) word position of each chunk, checking its words are contiguous."""
    result = []
    for chunk in chunks:
        positions = [POSITION[word] for word in chunk.split(" ")]
        assert positions == list(range(positions[0], positions[-1] + 1)), chunk
        result.append((positions[0], positions[-1]))
    return result


@pytest.mark.parametrize(("size", "overlap"), LAYOUTS)
def test_every_chunk_is_at_most_size_characters(size: int, overlap: int) -> None:
    chunks = chunk_text(TEXT, size, overlap)

    assert max(len(chunk) for chunk in chunks) <= size


@pytest.mark.parametrize(("size", "overlap"), LAYOUTS)
def test_every_chunk_is_a_contiguous_run_of_the_text_words(size: int, overlap: int) -> None:
    chunks = chunk_text(TEXT, size, overlap)

    assert len(spans(chunks)) == len(chunks)


@pytest.mark.parametrize(("size", "overlap"), LAYOUTS)
def test_chunks_cover_all_words_in_order(size: int, overlap: int) -> None:
    ranges = spans(chunk_text(TEXT, size, overlap))

    assert ranges[0][0] == 0
    assert ranges[-1][1] == len(WORDS) - 1
    for (first, last), (next_first, _) in itertools.pairwise(ranges):
        assert first < next_first <= last + 1


@pytest.mark.parametrize(("size", "overlap"), LAYOUTS)
def test_consecutive_chunks_share_at_most_overlap_characters_of_tail_words(
    size: int, overlap: int
) -> None:
    chunks = chunk_text(TEXT, size, overlap)

    for previous, following in itertools.pairwise(chunks):
        previous_words, following_words = previous.split(" "), following.split(" ")
        shared = [word for word in following_words if word in previous_words]
        assert shared == previous_words[len(previous_words) - len(shared) :]
        assert len(" ".join(shared)) <= overlap


@pytest.mark.parametrize(("size", "overlap"), [(40, 16), (80, 30), (120, 60), (800, 100)])
def test_an_overlap_longer_than_any_word_makes_consecutive_chunks_repeat_words(
    size: int, overlap: int
) -> None:
    assert max(len(word) for word in WORDS) < overlap
    ranges = spans(chunk_text(TEXT, size, overlap))

    assert all(next_first <= last for (_, last), (next_first, _) in itertools.pairwise(ranges))


def test_without_an_overlap_chunks_do_not_repeat_words() -> None:
    ranges = spans(chunk_text(TEXT, 40, 0))

    assert all(next_first == last + 1 for (_, last), (next_first, _) in itertools.pairwise(ranges))


def test_the_tail_words_that_fit_in_the_overlap_start_the_next_chunk() -> None:
    assert chunk_text("one two three four five six", 14, 9) == [
        "one two three",
        "two three four",  # "two three" is exactly 9 characters
        "four five six",
    ]


def test_an_overlap_as_large_as_the_size_is_rejected() -> None:
    with pytest.raises(KnowledgeInputError) as caught:
        chunk_text("some words", 10, 10)

    assert str(caught.value) == "chunk overlap (10) must be smaller than the chunk size (10)"


def test_an_overlap_larger_than_the_size_is_rejected() -> None:
    with pytest.raises(KnowledgeInputError, match=r"overlap \(50\) must be smaller"):
        chunk_text("some words", 20, 50)


def test_the_overlap_error_is_a_non_retryable_agentworker_error() -> None:
    with pytest.raises(AgentWorkerError) as caught:
        chunk_text("some words", 10, 10)

    assert caught.value.code == "invalid_knowledge_input"
    assert caught.value.retryable is False


def test_empty_text_has_no_chunks() -> None:
    assert chunk_text("", 100, 10) == []


def test_whitespace_only_text_has_no_chunks() -> None:
    assert chunk_text(" \n\t ", 100, 10) == []


def test_text_shorter_than_the_size_is_one_chunk() -> None:
    assert chunk_text("Venues in Lyon", 100, 10) == ["Venues in Lyon"]


def test_runs_of_whitespace_become_single_spaces() -> None:
    assert chunk_text("Venues\n\nin   Lyon\t", 100, 10) == ["Venues in Lyon"]


def test_a_word_longer_than_the_size_stands_alone() -> None:
    long_word = "supercalifragilistic"

    assert chunk_text(f"tiny {long_word} tiny2", 10, 3) == ["tiny", long_word, "tiny2"]


def test_a_text_that_is_one_long_word_is_one_chunk() -> None:
    assert chunk_text("x" * 50, 10, 2) == ["x" * 50]


def test_a_tail_word_longer_than_the_overlap_is_not_repeated() -> None:
    assert chunk_text("alpha bravo charlie delta", 12, 4) == ["alpha bravo", "charlie", "delta"]
