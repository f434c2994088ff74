"""How the run page lays a timeline on its axis (``worker.inbox.run_pages.view``): pure
arithmetic on a ``Timeline``, no database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from worker.inbox.run_pages import money, tone, view
from worker.ops.timeline import Bar, Timeline

T0 = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def _at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def _timeline(*bars: Bar, end: float | None = 10, as_of: float = 10) -> Timeline:
    return Timeline(
        kind="task",
        id=uuid.uuid4(),
        tenant_id=uuid.uuid4(),
        title="scout",
        status="SUCCEEDED" if end is not None else "RUNNING",
        final=end is not None,
        start=T0,
        end=_at(end) if end is not None else None,
        as_of=_at(as_of),
        bars=bars,
        events=(),
        events_total=0,
        tokens=10,
        cost=Decimal("0.000123"),
    )


def _bar(start: float, end: float | None, kind: str = "llm", status: str = "succeeded") -> Bar:
    return Bar(kind, kind, _at(start), _at(end) if end is not None else None, status)


def test_bars_sit_where_their_times_are_on_the_run_s_axis() -> None:
    laid = view(_timeline(_bar(0, 2.5), _bar(2.5, 10, "tool", "success")))["bars"]

    assert [(b["left"], b["width"]) for b in laid] == [("0.000", "25.000"), ("25.000", "75.000")]
    assert [b["duration"] for b in laid] == ["2.50 s", "7.50 s"]


def test_an_instant_step_is_still_drawn_and_stays_inside_the_axis() -> None:
    (laid,) = view(_timeline(_bar(10, 10, "tool", "success")))["bars"]

    assert float(laid["width"]) > 0
    assert float(laid["left"]) + float(laid["width"]) <= 100


def test_a_running_run_s_axis_ends_now_and_an_open_bar_reaches_it() -> None:
    laid = view(_timeline(_bar(0, 1), _bar(1, None, status="running"), end=None, as_of=4))

    assert laid["duration"] == "4.00 s"
    assert (laid["bars"][1]["left"], laid["bars"][1]["width"]) == ("25.000", "75.000")
    assert laid["ticks"][-1]["label"] == "4.00 s"


def test_statuses_are_coloured_by_what_they_mean() -> None:
    assert [tone(s) for s in ("SUCCEEDED", "completed", "approved", "success")] == ["ok"] * 4
    assert [tone(s) for s in ("FAILED", "rejected", "expired", "timeout")] == ["bad"] * 4
    assert [tone(s) for s in ("RUNNING", "waiting", "awaiting_approval")] == ["open"] * 3


def test_costs_show_to_the_millionth_of_a_dollar_and_none_as_a_dash() -> None:
    assert money(Decimal("0.000123")) == "$0.000123"
    assert money(Decimal(0)) == "$0.000000"
    assert money(None) == "—"
