"""``agentworker knowledge ingest`` progress: a bar on a terminal, one line elsewhere."""

from __future__ import annotations

import io

from worker.cli.knowledge import EmbeddingProgress


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _embed(progress: EmbeddingProgress, total: int, batch: int) -> None:
    with progress:
        progress(0, total)
        for done in range(batch, total + batch, batch):
            progress(min(done, total), total)


def test_a_terminal_sees_the_bar_reach_every_chunk() -> None:
    terminal = Terminal()

    _embed(EmbeddingProgress("venues", file=terminal), total=5, batch=2)

    text = terminal.getvalue()
    assert "embedding 5 chunks of 'venues'" in text
    assert "2/5" in text and "5/5" in text
    assert text.endswith("\n")  # the prompt comes back on a line of its own


def test_off_a_terminal_the_progress_is_one_line() -> None:
    pipe = io.StringIO()

    _embed(EmbeddingProgress("venues", file=pipe), total=5, batch=2)

    assert pipe.getvalue() == "embedding 5 chunks of 'venues'\n"


def test_an_ingest_that_embeds_nothing_writes_nothing() -> None:
    terminal = Terminal()

    with EmbeddingProgress("venues", file=terminal):
        pass

    assert terminal.getvalue() == ""
