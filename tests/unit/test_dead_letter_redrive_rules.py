"""Which dead letters may be sent again: only a keyword call to a task we consume whose kept body
is the message as received. A body that was redacted, cut or changed to be storable would send
something else than what arrived (a secret as "[REDACTED]", say), so it is refused."""

from __future__ import annotations

import math
from typing import Any

import pytest

from worker.app.dead_letters import dead_letter_body
from worker.app.redrive import redrive_refusal

KNOWN = frozenset({"agents.run_task", "knowledge.ingest"})
GOOD = {"tenant": "acme", "name": "brief", "text": "AgentConf runs in Lisbon."}


def _context(task: str, args: Any, kwargs: Any) -> dict[str, Any]:
    body, intact = dead_letter_body(args, kwargs)
    return {"task": task, "broker_message_id": "m-1", "body": body, "body_intact": intact}


def test_a_plain_keyword_call_is_kept_intact() -> None:
    body, intact = dead_letter_body((), GOOD)

    assert intact and body == {"args": [], "kwargs": GOOD}


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({**GOOD, "api_key": "abcdefgh12345678"}, id="secret-key-redacted"),
        pytest.param({**GOOD, "text": "use sk-" + "a" * 40}, id="secret-value-redacted"),
        pytest.param({**GOOD, "text": "nul \x00 byte"}, id="nul-made-storable"),
        pytest.param({**GOOD, "text": "lone \ud800 surrogate"}, id="surrogate-made-storable"),
        pytest.param({**GOOD, "weight": math.nan}, id="nan-kept-as-text"),
        pytest.param({**GOOD, "text": "x" * 20_000}, id="text-cut"),
    ],
)
def test_a_body_changed_to_be_stored_is_not_intact(kwargs: dict[str, Any]) -> None:
    _, intact = dead_letter_body((), kwargs)

    assert not intact


def test_an_intact_keyword_call_to_a_known_task_may_be_sent_again() -> None:
    assert redrive_refusal("failed", _context("knowledge.ingest", (), GOOD), KNOWN) is None


@pytest.mark.parametrize(
    ("kind", "task", "args", "kwargs", "reason"),
    [
        ("failed", "knowledge.ingest", (), {**GOOD, "token": "t0ps3cret!"}, "was changed"),
        ("refused", "agents.run_task", (), ["tenant", "acme"], "not a keyword call"),
        ("failed", "agents.run_task", ("acme", "helper"), {}, "not a keyword call"),
        ("unknown_task", "agents.no_such_task", (), GOOD, "no task named 'agents.no_such_task'"),
        ("undecodable", "agents.run_task", None, {"undecodable_body": "{"}, "not be decoded"),
    ],
    ids=["redacted", "kwargs-a-list", "positional", "unknown-task", "undecodable"],
)
def test_what_cannot_be_sent_as_it_arrived_is_refused_with_the_reason(
    kind: str, task: str, args: Any, kwargs: Any, reason: str
) -> None:
    refusal = redrive_refusal(kind, _context(task, args, kwargs), KNOWN)

    assert refusal is not None and reason in refusal


def test_a_row_recorded_without_the_intact_mark_is_not_sent_again() -> None:
    context = {"task": "knowledge.ingest", "body": {"args": [], "kwargs": GOOD}}

    refusal = redrive_refusal("failed", context, KNOWN)

    assert refusal is not None and "was changed" in refusal
