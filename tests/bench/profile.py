"""What the database says about a run: transaction and session counters, statements
(pg_stat_statements), rows written, and the timeline of each task from its events.

Every query the driver runs is labelled ``bench_probe`` so that it can be told apart from the
worker's in pg_stat_statements, and runs in a transaction that rolls back, so that it never
counts in ``xact_commit``.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import sqlalchemy as sa

from tests.bench.services import DRIVER_APPLICATION, Database

_TRANSACTION_CONTROL = {"BEGIN", "COMMIT", "ROLLBACK", "START TRANSACTION"}


def _one(database: Database, sql: str, **params: Any) -> dict[str, Any]:
    with database.engine.connect() as connection:
        return dict(connection.execute(sa.text(sql), params).one()._mapping)


def _all(database: Database, sql: str, **params: Any) -> list[dict[str, Any]]:
    with database.engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(sa.text(sql), params)]


def finished_count(database: Database, tenant_id: uuid.UUID) -> int:
    return int(
        _one(
            database,
            "SELECT count(*) AS bench_probe FROM tasks WHERE tenant_id = :tenant "
            "AND status IN ('SUCCEEDED', 'FAILED', 'CANCELLED')",
            tenant=tenant_id,
        )["bench_probe"]
    )


def database_counters(database: Database) -> dict[str, int]:
    with database.engine.connect() as connection:
        connection.execute(sa.text("SELECT pg_stat_clear_snapshot() AS bench_probe"))
        row = connection.execute(
            sa.text(
                "SELECT xact_commit, xact_rollback, sessions, tup_inserted, tup_updated, "
                "tup_fetched, tup_returned, 1 AS bench_probe "
                "FROM pg_stat_database WHERE datname = current_database()"
            )
        ).one()
    return {key: int(value) for key, value in row._mapping.items() if key != "bench_probe"}


_TABLE_COUNTERS = ("seq_scan", "seq_tup_read", "idx_scan", "n_tup_ins", "n_tup_upd")


def table_counters(database: Database) -> dict[str, dict[str, int]]:
    """Per-table scan and write counters (pg_stat_user_tables)."""
    with database.engine.connect() as connection:
        connection.execute(sa.text("SELECT pg_stat_clear_snapshot() AS bench_probe"))
        rows = connection.execute(
            sa.text(
                "SELECT relname, seq_scan, seq_tup_read, idx_scan, n_tup_ins, n_tup_upd, "
                "n_tup_hot_upd, 1 AS bench_probe FROM pg_stat_user_tables"
            )
        ).all()
    return {
        row.relname: {
            name: int(getattr(row, name) or 0) for name in (*_TABLE_COUNTERS, "n_tup_hot_upd")
        }
        for row in rows
    }


def table_deltas(
    after: dict[str, dict[str, int]], before: dict[str, dict[str, int]], tasks: int
) -> dict[str, dict[str, float]]:
    """Per task, for each table the run touched."""
    deltas: dict[str, dict[str, float]] = {}
    for table, counters in after.items():
        earlier = before.get(table, {})
        delta = {name: (value - earlier.get(name, 0)) / tasks for name, value in counters.items()}
        if any(delta[name] for name in _TABLE_COUNTERS):
            deltas[table] = {name: round(value, 3) for name, value in delta.items()}
    return dict(sorted(deltas.items(), key=lambda kv: -kv[1]["seq_tup_read"]))


def wait_for_backends_to_exit(database: Database, timeout: float = 10.0) -> None:
    """Backends flush their statistics when they exit: wait for the worker's to be gone."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        others = _one(
            database,
            "SELECT count(*) AS bench_probe FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name <> :driver",
            driver=DRIVER_APPLICATION,
        )["bench_probe"]
        if not others:
            break
        time.sleep(0.1)
    time.sleep(0.2)


def reset_statements(database: Database) -> None:
    if database.statements:
        _one(database, "SELECT pg_stat_statements_reset() IS NULL AS bench_probe")


def statements(database: Database) -> list[dict[str, Any]]:
    """The worker's statements since the reset, most called first."""
    if not database.statements:
        return []
    rows = _all(
        database,
        "SELECT query, calls, total_exec_time, rows, 1 AS bench_probe FROM pg_stat_statements "
        "WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) "
        "AND query NOT LIKE '%bench_probe%' ORDER BY calls DESC, total_exec_time DESC",
    )
    for row in rows:
        row["query"] = " ".join(str(row["query"]).split())
        row["transaction_control"] = row["query"].upper() in _TRANSACTION_CONTROL
        row.pop("bench_probe", None)
    return rows


def summarize_statements(rows: list[dict[str, Any]], tasks: int, top: int = 12) -> dict[str, Any]:
    work = [r for r in rows if not r["transaction_control"]]
    total_ms = sum(float(r["total_exec_time"]) for r in work) or 1.0
    commits = sum(int(r["calls"]) for r in rows if r["query"].upper() == "COMMIT")
    return {
        "statements_per_task": sum(int(r["calls"]) for r in work) / tasks,
        "commits_per_task": commits / tasks,
        "exec_ms_per_task": total_ms / tasks,
        "top": [
            {
                "calls_per_task": int(r["calls"]) / tasks,
                "mean_ms": float(r["total_exec_time"]) / max(1, int(r["calls"])),
                "share_of_exec_time": float(r["total_exec_time"]) / total_ms,
                "query": r["query"],
            }
            for r in work[:top]
        ],
    }


def task_outcome(database: Database, tenant_id: uuid.UUID) -> dict[str, Any]:
    return _one(
        database,
        "SELECT count(*) AS tasks, count(*) FILTER (WHERE status = 'SUCCEEDED') AS succeeded, "
        "min(started_at) AS first_start, max(finished_at) AS last_finish, "
        "avg(extract(epoch FROM finished_at - started_at)) * 1000 AS span_ms, "
        "1 AS bench_probe FROM tasks WHERE tenant_id = :tenant",
        tenant=tenant_id,
    )


def failures(database: Database, tenant_id: uuid.UUID, limit: int = 5) -> list[dict[str, Any]]:
    return _all(
        database,
        "SELECT status, error_code, left(error, 300) AS error, count(*) AS bench_probe "
        "FROM tasks WHERE tenant_id = :tenant AND status <> 'SUCCEEDED' "
        "GROUP BY 1, 2, 3 ORDER BY 4 DESC LIMIT :limit",
        tenant=tenant_id,
        limit=limit,
    )


def rows_written(database: Database, tenant_id: uuid.UUID) -> dict[str, int]:
    return {
        key: int(value)
        for key, value in _one(
            database,
            "SELECT (SELECT count(*) FROM agent_runs WHERE tenant_id = :t) AS agent_runs, "
            "(SELECT count(*) FROM event_logs WHERE tenant_id = :t) AS event_logs, "
            "(SELECT count(*) FROM ai_performance_metrics WHERE tenant_id = :t) AS metrics, "
            "(SELECT count(*) FROM action_logs WHERE tenant_id = :t) AS action_logs, "
            "(SELECT coalesce(sum(llm_calls), 0) FROM agent_runs WHERE tenant_id = :t) "
            "AS llm_calls_recorded, 1 AS bench_probe",
            t=tenant_id,
        ).items()
        if key != "bench_probe"
    }


_TIMELINE = """
WITH ev AS (
    SELECT e.task_id, e.event_type, e.created_at,
           row_number() OVER (PARTITION BY e.task_id, e.event_type ORDER BY e.id) AS n
    FROM event_logs e WHERE e.tenant_id = :t
), per_task AS (
    SELECT t.started_at, t.finished_at,
           min(ev.created_at) FILTER (WHERE ev.event_type = 'AGENT_START') AS run_started,
           min(ev.created_at) FILTER (WHERE ev.event_type = 'LLM_CALL' AND ev.n = 1) AS llm1,
           min(ev.created_at) FILTER (WHERE ev.event_type = 'TOOL_RESULT' AND ev.n = 1) AS tool,
           min(ev.created_at) FILTER (WHERE ev.event_type = 'LLM_CALL' AND ev.n = 2) AS llm2
    FROM tasks t JOIN ev ON ev.task_id = t.id
    WHERE t.tenant_id = :t AND t.status = 'SUCCEEDED'
    GROUP BY t.id
)
SELECT avg(extract(epoch FROM run_started - started_at)) * 1000 AS claim_to_run_started,
       avg(extract(epoch FROM llm1 - run_started)) * 1000 AS to_llm_call_1_persisted,
       avg(extract(epoch FROM tool - llm1)) * 1000 AS to_tool_result_persisted,
       avg(extract(epoch FROM llm2 - tool)) * 1000 AS to_llm_call_2_persisted,
       avg(extract(epoch FROM finished_at - llm2)) * 1000 AS to_finished,
       avg(extract(epoch FROM finished_at - started_at)) * 1000 AS total,
       (SELECT avg(metric_value) FROM ai_performance_metrics
         WHERE tenant_id = :t AND metric_name = 'llm.chat.latency_ms') AS llm_http_ms_per_call,
       1 AS bench_probe
FROM per_task
"""


def timeline(database: Database, tenant_id: uuid.UUID) -> dict[str, float | None]:
    """Average milliseconds between a task's checkpoints (each event's ``created_at`` is its
    transaction's start), and the LLM HTTP latency the worker measured per call."""
    row = _one(database, _TIMELINE, t=tenant_id)
    return {k: (float(v) if v is not None else None) for k, v in row.items() if k != "bench_probe"}
