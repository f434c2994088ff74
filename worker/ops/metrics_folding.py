"""Fold settled history into the fleet's retained totals, so that a scrape reads live rows only.

A task that is final, with every run of it final, never changes again, and neither does an LLM
latency row. ``fold_settled_history`` (the ``maintenance.fold_metrics`` beat job) hands such
rows, once they have been settled for ``settle_seconds``, to ``agentworker_fold_metrics``
(migration 0018): in one short transaction per batch it adds their share of the summed figures
(tasks by status, the runs' calls, tokens and cost, the latency histogram) to
``retained_totals`` and marks them ``metrics_folded``. ``agentworker_fleet_metrics`` then reads
only the unfolded rows, through partial indexes that hold just them, so a scrape costs what the
open and recently finished work costs, not what the history holds. Figures read the same before
and after a batch commits; retention deletes folded rows without counting them again.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa

from worker.ops.metrics import LATENCY_PREFIX, LATENCY_SUFFIX, latency_bounds_ms

__all__ = ["FoldReport", "fold_settled_history"]

log = logging.getLogger(__name__)

#: Rows of each kind per transaction: each batch's locks and its statement stay short.
BATCH_SIZE = 2000
#: How long a final row is left alone first (a late reader of it sees it live, as it was).
SETTLE_SECONDS = 60.0
#: One call's time budget; what is left is taken up by the next call.
MAX_SECONDS = 50.0

_FOLD = sa.text(
    "SELECT folded_tasks, folded_latency_rows"
    " FROM agentworker_fold_metrics(:prefix, :suffix, :bounds, :batch, :settle)"
)


@dataclass(frozen=True)
class FoldReport:
    tasks: int
    latency_rows: int
    batches: int
    seconds: float
    #: Whether the time budget ran out with settled rows left to fold.
    stopped_early: bool


def fold_settled_history(
    engine: sa.Engine,
    *,
    batch_size: int = BATCH_SIZE,
    settle_seconds: float = SETTLE_SECONDS,
    max_seconds: float = MAX_SECONDS,
) -> FoldReport:
    """Fold batches until a batch finds fewer settled rows than ``batch_size`` of each kind,
    or ``max_seconds`` have gone by. Safe to run in several processes at once: a row one
    batch holds is skipped by the others (``SKIP LOCKED``)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    if settle_seconds < 0:
        raise ValueError(f"settle_seconds must be 0 or more, got {settle_seconds}")
    values = {
        "prefix": LATENCY_PREFIX,
        "suffix": LATENCY_SUFFIX,
        "bounds": latency_bounds_ms(),
        "batch": batch_size,
        "settle": timedelta(seconds=settle_seconds),
    }
    started = time.monotonic()
    tasks = latency_rows = batches = 0
    while True:
        with engine.begin() as connection:
            folded_tasks, folded_latency = connection.execute(_FOLD, values).one()
        batches += 1
        tasks += folded_tasks
        latency_rows += folded_latency
        more = folded_tasks >= batch_size or folded_latency >= batch_size
        out_of_time = time.monotonic() - started >= max_seconds
        if not more or out_of_time:
            break
    report = FoldReport(
        tasks, latency_rows, batches, time.monotonic() - started, more and out_of_time
    )
    if tasks or latency_rows:
        log.info(
            "metrics fold: %d tasks and %d latency rows in %d batches (%.1fs)",
            tasks,
            latency_rows,
            batches,
            report.seconds,
            extra={"folded_tasks": tasks, "folded_latency_rows": latency_rows},
        )
    return report
