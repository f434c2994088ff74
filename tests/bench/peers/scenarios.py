"""(B) and (C) for the peers, driven from our venv: each scenario gets a fresh database of its
own on the bench's PostgreSQL server, its own local LLM server process, and the peer's processes
from its venv; the window is first run start to last run end (from the peer's own rows or
timings), CPU is read exactly (``sched``) for every process, and the peer's persisted rows are
checked per run afterwards."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import sqlalchemy as sa

from models import db
from tests.bench import profile
from tests.bench.peers import venvs
from tests.bench.peers.processes import PeerProcess, peer_processes, run_once
from tests.bench.procs import BenchError, CpuSampler, LLMServerProcess, peak_rss_mib, per_process
from tests.bench.scenarios.context import Context
from tests.bench.scenarios.measure import cpu_probes, grown, total, wait_done
from tests.bench.scenarios.result import RunResult

#: DBOS's queue poll: its default (1 s) caps a process at worker_concurrency runs per second;
#: the queue has no wake-up when a slot frees, so a short poll is what a throughput user sets.
DBOS_POLL_SECONDS = 0.01
DBOS_STEPS = 3  # llm_call, current_time, llm_call: one operation_outputs row each
LANGGRAPH_CHECKPOINTS = 4  # input, llm, tool, llm: one checkpoint per super-step


@contextlib.contextmanager
def peer_database(ctx: Context, peer: str) -> Iterator[tuple[str, sa.Engine]]:
    """A fresh database for one scenario of one peer: its URL (libpq form) and a driver engine."""
    base = db.database_url(ctx.database.url)
    name = f"{base.database}_{peer}"
    admin = db.create_sync_engine(
        base.set(database="postgres").render_as_string(hide_password=False),
        isolation_level="AUTOCOMMIT",
    )
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        url = base.set(database=name, drivername="postgresql")
        engine = db.create_sync_engine(
            url.render_as_string(hide_password=False), pool_pre_ping=False, pool_size=2
        )
        try:
            yield url.render_as_string(hide_password=False), engine
        finally:
            engine.dispose()
            with admin.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def _scalar(engine: sa.Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as connection:
        return connection.execute(sa.text(sql), params).scalar()


def _rows(engine: sa.Engine, sql: str, **params: Any) -> list[dict[str, Any]]:
    with engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(sa.text(sql), params)]


def _counters(ctx: Context, name: str) -> dict[str, int]:
    with ctx.database.engine.connect() as connection:
        connection.execute(sa.text("SELECT pg_stat_clear_snapshot() AS bench_probe"))
        row = connection.execute(
            sa.text(
                "SELECT xact_commit, xact_rollback, sessions, tup_inserted, tup_updated, "
                "tup_deleted, tup_fetched, tup_returned, 1 AS bench_probe "
                "FROM pg_stat_database WHERE datname = :name"
            ),
            {"name": name},
        ).one()
    return {key: int(value or 0) for key, value in row._mapping.items() if key != "bench_probe"}


def _statements(ctx: Context, name: str) -> list[dict[str, Any]]:
    if not ctx.database.statements:
        return []
    rows = _rows(
        ctx.database.engine,
        "SELECT query, calls, total_exec_time, rows, 1 AS bench_probe FROM pg_stat_statements "
        "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = :name) "
        "ORDER BY calls DESC, total_exec_time DESC",
        name=name,
    )
    for row in rows:
        row["query"] = " ".join(str(row["query"]).split())
        row["transaction_control"] = row["query"].upper() in {"BEGIN", "COMMIT", "ROLLBACK"}
        row.pop("bench_probe", None)
    return rows


def _wait_backends_gone(ctx: Context, name: str, timeout: float = 15.0) -> None:
    """Backends flush their statistics when they exit."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _scalar(
            ctx.database.engine,
            "SELECT count(*) FROM pg_stat_activity WHERE datname = :name",
            name=name,
        ):
            break
        time.sleep(0.1)
    time.sleep(0.3)


def _table_rows(engine: sa.Engine, schema: str) -> dict[str, int]:
    tables = _rows(
        engine,
        "SELECT table_name FROM information_schema.tables WHERE table_schema = :schema "
        "AND table_type = 'BASE TABLE' ORDER BY table_name",
        schema=schema,
    )
    counts = {
        t["table_name"]: int(
            _scalar(engine, f'SELECT count(*) FROM "{schema}"."{t["table_name"]}"')
        )
        for t in tables
    }
    return {name: count for name, count in counts.items() if count}


def _result(
    name: str,
    peer: str,
    *,
    runs: int,
    threads: int,
    processes: int,
    latency_ms: float,
    first: float,
    last: float,
    sampler: CpuSampler,
    rss: list[float | None],
    details: dict[str, Any],
) -> RunResult:
    return RunResult(
        name=name,
        kind=peer,
        tasks=runs,
        concurrency=threads * processes,
        seconds=last - first,
        llm_calls_per_task=2,
        latency_ms=latency_ms,
        peak_rss_mib=total(rss),
        cpu_seconds=sampler.window(first, last),
        redis_commands={},
        profile=details,
        processes=processes,
        peak_rss_each_mib=rss,
    )


def _database_profile(
    ctx: Context, database: str, before: dict[str, int], runs: int, rows: dict[str, int]
) -> dict[str, Any]:
    _wait_backends_gone(ctx, database)
    counters = grown(_counters(ctx, database), before)
    statements = _statements(ctx, database)
    return {
        "database_counters_per_task": {k: round(v / runs, 3) for k, v in counters.items()},
        "rows_per_task": {table: round(count / runs, 3) for table, count in rows.items()},
        "statements": profile.summarize_statements(statements, runs) if statements else None,
        "statements_note": ctx.database.statements_note,
    }


# --- DBOS --------------------------------------------------------------------------------------


def run_dbos(
    ctx: Context,
    name: str,
    *,
    runs: int,
    concurrency: int,
    processes: int,
    latency_ms: float,
    say: Callable[[str], None],
) -> RunResult:
    python = venvs.python("dbos", say)
    threads = per_process(concurrency, processes)
    module = "tests.bench.peers.dbos_app"
    poll = str(DBOS_POLL_SECONDS)
    with (
        peer_database(ctx, "dbos") as (url, engine),
        LLMServerProcess(ctx.logs / f"{name}-llm.log", latency_ms=latency_ms) as llm,
    ):
        env = {"BENCH_LLM_BASE_URL": llm.base_url}
        setup_started = time.perf_counter()
        run_once(
            python,
            ["-m", module, "setup", url, str(runs), str(threads), poll],
            ctx.logs / f"{name}-setup.log",
            env,
        )
        submit_seconds = time.perf_counter() - setup_started
        database = db.database_url(url).database or ""
        before = _counters(ctx, database)
        profile.reset_statements(ctx.database)
        llm_before = llm.chat_requests()
        started = [
            PeerProcess(
                python,
                ["-m", module, "worker", url, str(index), str(threads), poll],
                ctx.logs / f"{name}-{index}.log",
                env,
            )
            for index in range(processes)
        ]
        with peer_processes(started) as workers:
            pids = [w.process.pid for w in workers]
            with CpuSampler(cpu_probes(ctx, pids, llm)) as sampler:
                for worker in workers:
                    worker.expect("ready", timeout=120)
                wait_done(
                    lambda: int(
                        _scalar(
                            engine,
                            "SELECT count(*) FROM dbos.workflow_status "
                            "WHERE status IN ('SUCCESS', 'ERROR', "
                            "'MAX_RECOVERY_ATTEMPTS_EXCEEDED')",
                        )
                    ),
                    runs,
                    [w.worker for w in workers],
                    what=f"{name} (DBOS workflows)",
                    stall_seconds=30 + 4 * latency_ms / 1000,
                )
                rss = [peak_rss_mib(pid) for pid in pids]
            llm_requests = llm.chat_requests() - llm_before
        window = _rows(
            engine,
            "SELECT min(started_at_epoch_ms) AS first, max(updated_at) AS last, "
            "count(*) FILTER (WHERE status = 'SUCCESS') AS succeeded "
            "FROM dbos.workflow_status",
        )[0]
        short = _rows(
            engine,
            "SELECT w.workflow_uuid, w.status, count(o.function_id) AS steps "
            "FROM dbos.workflow_status w LEFT JOIN dbos.operation_outputs o "
            "ON o.workflow_uuid = w.workflow_uuid GROUP BY 1, 2 "
            "HAVING w.status <> 'SUCCESS' OR count(o.function_id) < :steps LIMIT 5",
            steps=DBOS_STEPS,
        )
        rows = _table_rows(engine, "dbos")
        details = _database_profile(ctx, database, before, runs, rows)
    if int(window["succeeded"]) != runs or short:
        raise BenchError(
            f"{name}: {window['succeeded']}/{runs} DBOS workflows SUCCESS; runs missing their "
            f"recorded steps (of {DBOS_STEPS}): {short}\n"
            + "\n".join(str(w.log_path) for w in workers)
        )
    details |= {
        "submit_seconds": round(submit_seconds, 3),
        "llm_requests_per_task": llm_requests / runs,
        "rows_check": f"{runs} workflows SUCCESS, each with {DBOS_STEPS} operation_outputs rows",
        "config": {
            "queue": "bench-agents",
            "worker_concurrency": threads,
            "polling_interval_sec": DBOS_POLL_SECONDS,
            "sys_db_pool_size": threads + 4,
            "max_executor_threads": threads + 8,
        },
    }
    return _result(
        name,
        "dbos",
        runs=runs,
        threads=threads,
        processes=processes,
        latency_ms=latency_ms,
        first=int(window["first"]) / 1000,
        last=int(window["last"]) / 1000,
        sampler=sampler,
        rss=rss,
        details=details,
    )


# --- LangGraph ---------------------------------------------------------------------------------


def run_langgraph(
    ctx: Context,
    name: str,
    *,
    runs: int,
    concurrency: int,
    processes: int,
    latency_ms: float,
    say: Callable[[str], None],
) -> RunResult:
    python = venvs.python("langgraph", say)
    threads = per_process(concurrency, processes)
    module = "tests.bench.peers.langgraph_app"
    with (
        peer_database(ctx, "langgraph") as (url, engine),
        LLMServerProcess(ctx.logs / f"{name}-llm.log", latency_ms=latency_ms) as llm,
    ):
        env = {"BENCH_LLM_BASE_URL": llm.base_url}
        run_once(python, ["-m", module, "setup", url], ctx.logs / f"{name}-setup.log", env)
        database = db.database_url(url).database or ""
        started = [
            PeerProcess(
                python,
                ["-m", module, "run", url, str(index), str(processes), str(runs), str(threads)],
                ctx.logs / f"{name}-{index}.log",
                env,
            )
            for index in range(processes)
        ]
        with peer_processes(started) as workers:
            pids = [w.process.pid for w in workers]
            for worker in workers:
                worker.expect("ready", timeout=120)  # imports, pool opened, graph compiled
            before = _counters(ctx, database)
            profile.reset_statements(ctx.database)
            llm_before = llm.chat_requests()
            with CpuSampler(cpu_probes(ctx, pids, llm)) as sampler:
                for worker in workers:
                    worker.say("go")
                wait_done(
                    lambda: int(
                        _scalar(
                            engine,
                            "SELECT count(DISTINCT thread_id) FROM checkpoints "
                            "WHERE (metadata->>'step')::int >= 2",
                        )
                    ),
                    runs,
                    [w.worker for w in workers],
                    what=f"{name} (LangGraph runs)",
                    stall_seconds=30 + 4 * latency_ms / 1000,
                )
                results = [json.loads(w.expect("result", timeout=60)) for w in workers]
                rss = [peak_rss_mib(pid) for pid in pids]
            llm_requests = llm.chat_requests() - llm_before
        short = _rows(
            engine,
            "SELECT thread_id, count(*) AS checkpoints FROM checkpoints GROUP BY 1 "
            "HAVING count(*) < :expected LIMIT 5",
            expected=LANGGRAPH_CHECKPOINTS,
        )
        threads_recorded = int(_scalar(engine, "SELECT count(DISTINCT thread_id) FROM checkpoints"))
        rows = _table_rows(engine, "public")
        rows.pop("checkpoint_migrations", None)  # set-up, not per run
        details = _database_profile(ctx, database, before, runs, rows)
    done = sum(r["done"] for r in results)
    errors = [e for r in results for e in r["errors"]]
    if done != runs or short or threads_recorded != runs:
        raise BenchError(
            f"{name}: {done}/{runs} LangGraph runs finished, {threads_recorded} threads "
            f"checkpointed; threads with fewer than {LANGGRAPH_CHECKPOINTS} checkpoints: {short}; "
            f"errors: {errors}"
        )
    details |= {
        "llm_requests_per_task": llm_requests / runs,
        "rows_check": f"{runs} threads, each with {LANGGRAPH_CHECKPOINTS}+ checkpoints",
        "config": {
            "durability": "sync",
            "threads_per_process": threads,
            "pool": f"psycopg_pool.ConnectionPool(min=max={threads}), autocommit, "
            "prepare_threshold=0, dict_row",
        },
    }
    return _result(
        name,
        "langgraph",
        runs=runs,
        threads=threads,
        processes=processes,
        latency_ms=latency_ms,
        first=min(r["first_start"] for r in results),
        last=max(r["last_finish"] for r in results),
        sampler=sampler,
        rss=rss,
        details=details,
    )
