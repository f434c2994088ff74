"""``make chaos`` in small: 200 jobs of every kind while a driver SIGKILLs a worker every
~10 s, restarts PostgreSQL and Redis once each, the LLM fails one call in ten and malformed
messages arrive among the good ones. Nothing may be lost, repeated, bypassed, stranded or
left unrecorded, and no worker may crash on its own (tests/chaos/soak.py)."""

from __future__ import annotations

import pytest

from tests.chaos.report import render
from tests.chaos.soak import SoakOptions, run_soak


@pytest.mark.slow
def test_two_hundred_jobs_under_kills_and_restarts_lose_repeat_and_strand_nothing() -> None:
    report = run_soak(SoakOptions(jobs=200, rate=6.0, drain_seconds=120), log=lambda _: None)
    table = render(report)
    print(table)  # shown with -rP

    assert report.must_be_zero() == dict.fromkeys(report.must_be_zero(), 0), table
    assert report.driver_errors == [], table
    assert report.drained, table
