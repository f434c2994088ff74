"""(retention): retention over a large event log while a writer keeps appending to it.

As the owner, ``generate_series`` writes ``rows`` events of one tenant older than the
``event_logs`` policy keeps (and some recent ones, which must stay). Then, as the runtime role
(row-level security, as deployed), a writer thread inserts one event per transaction, first
alone (its baseline) and then while ``run_retention`` deletes the old rows in its batches. The
figures: rows deleted per second, and the writer's longest wait for an insert while the
deletion ran (it includes any lock wait; the target is under 100 ms).
"""

from __future__ import annotations

import statistics
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from models import db
from models.tenant_scope import tenant_scope
from tests.bench.scenarios.context import Context
from tests.bench.services import unique
from tests.support.agents import ensure_tenant
from worker.core.database_roles import ensure_runtime_login
from worker.ops.retention.policies import policy_named
from worker.ops.retention.sweep import run_retention

#: The writer's longest insert while retention runs must stay under this.
TARGET_MS = 100.0
_RECENT = 10_000
_BASELINE_SECONDS = 2.0


@dataclass(frozen=True)
class RetentionBench:
    rows: int
    deleted: int
    batches: int
    batch_size: int
    seconds: float
    insert_seconds: float
    baseline_inserts: int
    baseline_max_ms: float
    baseline_p99_ms: float
    writer_inserts: int
    writer_max_ms: float
    writer_p99_ms: float
    writer_lost: int
    kept_recent: int
    #: The longest the writer was seen waiting on a heavyweight lock (sampled).
    lock_wait_max_ms: float
    lock_samples: int
    #: What the writer's backend was seen waiting on, with the number of samples.
    writer_wait_events: dict[str, int]

    @property
    def per_second(self) -> float:
        return self.deleted / self.seconds if self.seconds else 0.0

    @property
    def passed(self) -> bool:
        return (
            self.lock_wait_max_ms < TARGET_MS
            and self.deleted == self.rows
            and self.writer_lost == 0
            and self.kept_recent == _RECENT
        )

    def as_json(self) -> dict[str, Any]:
        return {
            **self.__dict__,
            "rows_per_second": round(self.per_second, 1),
            "target_ms": TARGET_MS,
            "passed": self.passed,
        }


class _Writer:
    """One event per transaction, as fast as it can, until stopped; each insert timed."""

    def __init__(self, engine: sa.Engine, tenant: uuid.UUID) -> None:
        self.engine, self.tenant = engine, tenant
        self.waits: list[float] = []
        self.ids: list[int] = []
        self.pids: set[int] = set()
        self.failure: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> _Writer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=60)
        if self.failure is not None:
            raise RuntimeError(f"the writer failed: {self.failure!r}") from self.failure

    def _run(self) -> None:
        insert = sa.text(
            "INSERT INTO event_logs (tenant_id, event_type, content) "
            "VALUES (:t, 'LOG', 'live event') RETURNING id, pg_backend_pid()"
        )
        try:
            with tenant_scope(self.tenant):
                while not self._stop.is_set():
                    started = time.perf_counter()
                    with self.engine.begin() as connection:
                        row = connection.execute(insert, {"t": self.tenant}).one()
                    self.ids.append(row[0])
                    self.pids.add(row[1])
                    self.waits.append(time.perf_counter() - started)
                    time.sleep(0.002)  # an eager, not a saturating, writer
        except BaseException as error:
            self.failure = error


class _LockWatch:
    """Samples the writer's backends in ``pg_stat_activity`` every few milliseconds: the
    longest run of samples waiting on a heavyweight lock (``wait_event_type = 'Lock'``), and
    what else they waited on (LWLocks, IO: e.g. the WAL flush of a commit)."""

    def __init__(self, engine: sa.Engine, writer: _Writer) -> None:
        self.engine, self.writer = engine, writer
        self.longest_lock_ms = 0.0
        self.waits: dict[str, int] = {}
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> _LockWatch:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        query = sa.text(
            "SELECT wait_event_type, wait_event FROM pg_stat_activity "
            "WHERE pid = ANY(:pids) AND state = 'active'"
        )
        locked_since: float | None = None
        with self.engine.connect() as connection:
            while not self._stop.is_set():
                pids = sorted(self.writer.pids)
                rows = connection.execute(query, {"pids": pids}).all() if pids else []
                connection.rollback()
                now = time.perf_counter()
                self.samples += 1
                locked = False
                for kind, event in rows:
                    if kind:
                        key = f"{kind}:{event}"
                        self.waits[key] = self.waits.get(key, 0) + 1
                    locked = locked or kind == "Lock"
                if locked:
                    locked_since = locked_since or now
                    self.longest_lock_ms = max(self.longest_lock_ms, (now - locked_since) * 1000)
                else:
                    locked_since = None
                time.sleep(0.002)


def _p99_ms(waits: list[float]) -> float:
    if len(waits) < 2:
        return max(waits, default=0.0) * 1000
    return statistics.quantiles(waits, n=100)[98] * 1000


def run_retention_bench(ctx: Context, *, rows: int, say: Callable[[str], None]) -> RetentionBench:
    owner = ctx.database.engine
    tenant = ensure_tenant(owner, unique("retention"))
    now = datetime.now(UTC)
    old = now - timedelta(days=policy_named("event_logs").keep_days + 10)
    started = time.monotonic()
    with owner.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO event_logs (tenant_id, event_type, agent_role, content, data, "
                "created_at) SELECT :t, 'LOG', 'bench', 'an old event number ' || n, "
                "jsonb_build_object('n', n), :at - make_interval(secs => n) "
                "FROM generate_series(1, :n) AS n"
            ),
            {"t": tenant, "n": rows, "at": old},
        )
        connection.execute(
            sa.text(
                "INSERT INTO event_logs (tenant_id, event_type, content) "
                "SELECT :t, 'LOG', 'recent' FROM generate_series(1, :n)"
            ),
            {"t": tenant, "n": _RECENT},
        )
    with owner.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(sa.text("VACUUM ANALYZE event_logs"))
    insert_seconds = time.monotonic() - started
    say(f"   inserted {rows:,} old and {_RECENT:,} recent events in {insert_seconds:.1f}s")

    runtime = db.create_sync_engine(ensure_runtime_login(ctx.database.url))
    try:
        with _Writer(runtime, tenant) as baseline:
            time.sleep(_BASELINE_SECONDS)
        with _Writer(runtime, tenant) as writer, _LockWatch(owner, writer) as watch:
            time.sleep(0.2)
            before = len(writer.waits)
            report = run_retention(runtime, tenant_ids=[tenant], policies=["event_logs"])
            during = writer.waits[before:]
        (outcome,) = report.outcomes
        written = set(baseline.ids) | set(writer.ids)
        with tenant_scope(tenant), runtime.begin() as connection:
            present = set(
                connection.execute(
                    sa.text("SELECT id FROM event_logs WHERE id = ANY(:ids)"),
                    {"ids": sorted(written)},
                ).scalars()
            )
            recent = connection.execute(
                sa.text("SELECT count(*) FROM event_logs WHERE content = 'recent'")
            ).scalar_one()
    finally:
        runtime.dispose()
    return RetentionBench(
        rows=rows,
        deleted=outcome.rows,
        batches=outcome.batches,
        batch_size=policy_named("event_logs").batch_size,
        seconds=report.seconds,
        insert_seconds=insert_seconds,
        baseline_inserts=len(baseline.waits),
        baseline_max_ms=max(baseline.waits, default=0.0) * 1000,
        baseline_p99_ms=_p99_ms(baseline.waits),
        writer_inserts=len(during),
        writer_max_ms=max(during, default=0.0) * 1000,
        writer_p99_ms=_p99_ms(during),
        writer_lost=len(written - present),
        kept_recent=int(recent),
        lock_wait_max_ms=watch.longest_lock_ms,
        lock_samples=watch.samples,
        writer_wait_events=dict(sorted(watch.waits.items(), key=lambda item: -item[1])),
    )


def retention_section(result: RetentionBench) -> list[str]:
    verdict = "met" if result.passed else "MISSED"
    return [
        "",
        f"(retention) event_logs policy over {result.rows:,} old events of one tenant (+ "
        f"{_RECENT:,} recent), as the runtime role, batches of {result.batch_size}",
        f"  deleted {result.deleted:,} rows in {result.batches} batches in "
        f"{result.seconds:.2f}s = {result.per_second:,.0f} rows/s "
        f"(bulk insert took {result.insert_seconds:.1f}s)",
        f"  concurrent writer (one insert per transaction): {result.writer_inserts} inserts, "
        f"longest {result.writer_max_ms:.1f} ms, p99 {result.writer_p99_ms:.1f} ms; "
        f"alone: {result.baseline_inserts} inserts, longest {result.baseline_max_ms:.1f} ms, "
        f"p99 {result.baseline_p99_ms:.1f} ms",
        f"  lock waits of the writer ({result.lock_samples} samples of pg_stat_activity): "
        f"longest {result.lock_wait_max_ms:.1f} ms; its waits seen: "
        + (", ".join(f"{k} x{n}" for k, n in result.writer_wait_events.items()) or "none"),
        f"  target: longest lock wait under {TARGET_MS:.0f} ms: {verdict}; writer rows lost: "
        f"{result.writer_lost}; recent rows kept: {result.kept_recent:,}",
    ]
