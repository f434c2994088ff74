"""(scrape): a metrics scrape over a large history (issue 15: under 200 ms at 10,000,000 event
rows).

As the owner, ``generate_series`` writes ``events`` event rows of one tenant and the history
they come with, in the proportions of the bench's agent runs (about 20 events a task): a task
in twenty, one agent run per task, two LLM latency rows per run, finished over the hours before.
Then, as the runtime role (row-level security, as deployed), the scrape
(``worker.ops.metrics.DatabaseCollector``, what ``/metrics`` serves) runs ``SCRAPES`` times
before and after the settled history is folded into the totals, as the
``maintenance.fold_metrics`` beat job does (``worker.ops.metrics_folding``); the figures are the
scrapes' median and slowest times, the fold's rate, and the fleet function's parts timed alone.
"""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from models import db
from tests.bench.scenarios.context import Context
from tests.bench.services import unique
from tests.support.agents import ensure_tenant
from worker.core.database_roles import ensure_runtime_login
from worker.ops.metrics import DatabaseCollector
from worker.ops.metrics_folding import fold_settled_history

TARGET_MS = 200.0
SCRAPES = 7
#: History per event row: tasks (and runs), and LLM latency rows per run.
EVENTS_PER_TASK = 20
LATENCY_ROWS_PER_RUN = 2


@dataclass(frozen=True)
class ScrapeBench:
    events: int
    tasks: int
    runs: int
    latency_rows: int
    insert_seconds: float
    #: Scrapes of the history as written, none of it folded yet.
    unfolded_scrape_ms: list[float]
    fold_seconds: float
    folded_rows: int
    #: Scrapes once the settled history is folded, as the beat job keeps it.
    scrape_ms: list[float]
    #: The fleet function's parts timed alone (ms), by what they read.
    parts_ms: dict[str, float]

    @property
    def median_ms(self) -> float:
        return statistics.median(self.scrape_ms)

    @property
    def passed(self) -> bool:
        return self.median_ms < TARGET_MS

    def as_json(self) -> dict[str, Any]:
        return {
            **self.__dict__,
            "median_ms": round(self.median_ms, 1),
            "target_ms": TARGET_MS,
            "passed": self.passed,
        }


#: The parts of the fleet function (migrations 0012, 0017, 0018), one query each, to see
#: which part of a scrape costs what as history grows.
_PARTS = {
    "unfolded tasks by status": "SELECT status, count(*) FROM tasks WHERE NOT metrics_folded "
    "GROUP BY status",
    "their runs' sums": "SELECT sum(r.llm_calls), sum(r.prompt_tokens), "
    "sum(r.completion_tokens), sum(r.cost) FROM tasks t JOIN agent_runs r ON r.task_id = t.id "
    "WHERE NOT t.metrics_folded",
    "unfolded latency rows, one pass": "SELECT metric_name, width_bucket(-metric_value, "
    "ARRAY[-30000, -10000, -5000, -2500, -1000, -500, -250, -100, -50]::numeric[]), count(*), "
    "sum(metric_value), count(*) FILTER (WHERE measurement_context ->> 'ok' = 'false') FROM "
    "ai_performance_metrics WHERE metric_category = 'latency' AND NOT metrics_folded AND "
    "starts_with(metric_name, 'llm.') GROUP BY 1, 2",
    "retained totals": "SELECT figure, label, sum(value) FROM retained_totals GROUP BY 1, 2",
    "event_logs (not read)": "SELECT count(*) FROM event_logs",
}


def _fill(connection: sa.Connection, tenant: uuid.UUID, events: int) -> tuple[int, int, int]:
    tasks = max(1, events // EVENTS_PER_TASK)
    latency = tasks * LATENCY_ROWS_PER_RUN
    params = {"t": tenant, "events": events, "tasks": tasks, "latency": latency}
    connection.execute(
        sa.text(
            "INSERT INTO tasks (id, tenant_id, agent_name, input_prompt, status, attempts, "
            "created_at, started_at, finished_at, updated_at) SELECT gen_random_uuid(), :t, "
            "'bench', 'history ' || n, CASE WHEN n % 50 = 0 THEN 'FAILED' ELSE 'SUCCEEDED' END, "
            "1, now() - make_interval(secs => n), now() - make_interval(secs => n), now() - "
            "make_interval(secs => n), now() - make_interval(secs => n) "
            "FROM generate_series(1, :tasks) AS n"
        ),
        params,
    )
    connection.execute(
        sa.text(
            "INSERT INTO agent_runs (tenant_id, task_id, agent_name, status, llm_calls, "
            "prompt_tokens, completion_tokens, cost, started_at, finished_at) SELECT :t, id, "
            "'bench', 'COMPLETED', 2, 120, 40, 0.0001, started_at, finished_at FROM tasks "
            "WHERE tenant_id = :t"
        ),
        params,
    )
    connection.execute(
        sa.text(
            "INSERT INTO ai_performance_metrics (tenant_id, metric_category, metric_name, "
            "metric_value, measurement_timestamp, measurement_context) SELECT :t, 'latency', "
            "'llm.chat.latency_ms', (n % 3000) + 20, now() - make_interval(secs => n), "
            "jsonb_build_object('ok', n % 40 <> 0) FROM generate_series(1, :latency) AS n"
        ),
        params,
    )
    connection.execute(
        sa.text(
            "INSERT INTO event_logs (tenant_id, event_type, agent_role, content, data, "
            "created_at) SELECT :t, 'LOG', 'bench', 'an event number ' || n, "
            "jsonb_build_object('n', n), now() - make_interval(secs => n / 20) "
            "FROM generate_series(1, :events) AS n"
        ),
        params,
    )
    return tasks, tasks, latency


def run_scrape_bench(ctx: Context, *, events: int, say: Callable[[str], None]) -> ScrapeBench:
    owner = ctx.database.engine
    tenant = ensure_tenant(owner, unique("scrape"))
    started = time.monotonic()
    with owner.begin() as connection:
        tasks, runs, latency = _fill(connection, tenant, events)
    _vacuum(owner)
    insert_seconds = time.monotonic() - started
    say(
        f"   wrote {events:,} events, {tasks:,} tasks and runs, {latency:,} latency rows in "
        f"{insert_seconds:.0f}s"
    )
    runtime = db.create_sync_engine(ensure_runtime_login(ctx.database.url))
    try:
        collector = DatabaseCollector(runtime, statement_timeout_ms=60_000)
        unfolded_scrape_ms = _scrapes(collector)
        began = time.monotonic()
        fold = fold_settled_history(runtime, max_seconds=float("inf"))
        fold_seconds = time.monotonic() - began
        say(
            f"   folded {fold.tasks:,} tasks and {fold.latency_rows:,} latency rows in "
            f"{fold_seconds:.0f}s"
        )
        _vacuum(owner)  # as autovacuum would after the fold's updates
        scrape_ms = _scrapes(collector)
    finally:
        runtime.dispose()
    parts_ms: dict[str, float] = {}
    with owner.connect() as connection:
        for name, query in _PARTS.items():
            connection.execute(sa.text(query)).all()  # warm, as the scrapes were
            began = time.perf_counter()
            connection.execute(sa.text(query)).all()
            parts_ms[name] = (time.perf_counter() - began) * 1000
    return ScrapeBench(
        events,
        tasks,
        runs,
        latency,
        insert_seconds,
        unfolded_scrape_ms,
        fold_seconds,
        fold.tasks + fold.latency_rows,
        scrape_ms,
        parts_ms,
    )


def _scrapes(collector: DatabaseCollector) -> list[float]:
    times = []
    for _ in range(SCRAPES):
        began = time.perf_counter()
        collector.read()
        times.append((time.perf_counter() - began) * 1000)
    return times


def _vacuum(owner: sa.Engine) -> None:
    with owner.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for table in ("tasks", "agent_runs", "ai_performance_metrics", "event_logs"):
            connection.execute(sa.text(f"VACUUM ANALYZE {table}"))


def scrape_section(result: ScrapeBench) -> list[str]:
    verdict = "met" if result.passed else "MISSED"
    parts = ", ".join(f"{name} {ms:.0f} ms" for name, ms in result.parts_ms.items())
    return [
        "",
        f"(scrape) /metrics over {result.events:,} event rows, {result.tasks:,} tasks, "
        f"{result.runs:,} agent runs, {result.latency_rows:,} LLM latency rows (runtime role)",
        f"  history as written, none folded: scrape median "
        f"{statistics.median(result.unfolded_scrape_ms):.0f} ms, slowest "
        f"{max(result.unfolded_scrape_ms):.0f} ms",
        f"  the fold (beat job maintenance.fold_metrics): {result.folded_rows:,} rows in "
        f"{result.fold_seconds:.1f}s = {result.folded_rows / max(result.fold_seconds, 1e-9):,.0f}"
        " rows/s",
        f"  settled history folded: scrape median {result.median_ms:.1f} ms, slowest "
        f"{max(result.scrape_ms):.1f} ms over {len(result.scrape_ms)} scrapes "
        f"(target < {TARGET_MS:.0f} ms: {verdict})",
        f"  its parts alone: {parts}",
    ]
