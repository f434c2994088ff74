"""The shipped defaults recover from any single fault in under a minute (issue 11, defect 17).

tests/e2e/test_recovery.py measures it with real workers; this keeps the arithmetic behind it
from drifting when a default changes.
"""

from __future__ import annotations

import os
import runpy
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from worker.app.visibility import renew_interval
from worker.core.settings import Settings
from worker.durable.queue_probes import CLAIM_GRACE

ROOT = Path(__file__).resolve().parents[2]
TARGET_SECONDS = 60


@pytest.fixture
def celeryconfig() -> dict[str, Any]:
    """celeryconfig as an empty environment reads it."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AGENTWORKER_", "CELERY_"))}
    with mock.patch.dict(os.environ, clean, clear=True):
        return runpy.run_path(str(ROOT / "celeryconfig.py"))


def _reaper_interval(config: dict[str, Any]) -> float:
    return float(config["beat_schedule"]["reap-stranded-work"]["schedule"])


def test_the_shipped_lease_and_reaper_interval(celeryconfig: dict[str, Any]) -> None:
    assert Settings().lease_seconds == 30
    assert _reaper_interval(celeryconfig) == 10
    assert Settings().pending_republish_seconds == 15
    assert celeryconfig["broker_transport_options"]["visibility_timeout"] == 30


def test_a_dead_workers_task_is_taken_over_within_a_minute(
    celeryconfig: dict[str, Any],
) -> None:
    """Its lease runs out at most a lease after the last renewal; the next reaper pass
    re-queues it."""
    assert Settings().lease_seconds + _reaper_interval(celeryconfig) < TARGET_SECONDS


def test_a_lost_message_is_republished_within_a_minute(celeryconfig: dict[str, Any]) -> None:
    """Suspected after pending_republish_seconds, probed at the next pass, proved a claim
    grace after the probe came back, re-published at the pass after."""
    interval = _reaper_interval(celeryconfig)
    worst = Settings().pending_republish_seconds + interval + CLAIM_GRACE.total_seconds()
    assert worst + interval < TARGET_SECONDS


def test_a_dead_workers_redis_message_comes_back_within_a_minute(
    celeryconfig: dict[str, Any],
) -> None:
    options = celeryconfig["broker_transport_options"]
    sweep = options["unacked_restore_interval"] * options["unacked_restore_throttle"]
    assert options["visibility_timeout"] + sweep < TARGET_SECONDS
    assert options["unacked_mutex_expire"] < TARGET_SECONDS


def test_a_live_worker_renews_what_it_holds_well_within_the_visibility_timeout(
    celeryconfig: dict[str, Any],
) -> None:
    timeout = celeryconfig["broker_transport_options"]["visibility_timeout"]
    assert renew_interval(timeout) <= timeout / 3
