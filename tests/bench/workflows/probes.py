"""What the workflow scenarios read from the database while and after they run: executions by
status, the tenant's pending approvals, rows and bytes per table, and (w1)'s latencies from the
database's own timestamps.

Every query is labelled ``bench_probe`` so that ``tests/bench/profile.py`` leaves it out of the
worker's statement profile.
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from tests.bench.procs import BenchError
from tests.bench.scenarios.measure import epoch
from tests.bench.services import Database
from tests.bench.workflows.results import HEADLINE, INTERVALS


def probe_value(database: Database, sql: str, **params: Any) -> Any:
    with database.engine.connect() as connection:
        return connection.execute(sa.text(sql), params).scalar()


def probe_rows(database: Database, sql: str, **params: Any) -> list[sa.Row[Any]]:
    with database.engine.connect() as connection:
        return list(connection.execute(sa.text(sql), params))


def tenant_id_of(database: Database, slug: str) -> uuid.UUID:
    return uuid.UUID(
        str(probe_value(database, "SELECT id AS bench_probe FROM tenants WHERE slug = :s", s=slug))
    )


def executions_in(database: Database, tenant_id: uuid.UUID, *statuses: str) -> int:
    return int(
        probe_value(
            database,
            "SELECT count(*) AS bench_probe FROM ai_workflow_executions "
            "WHERE tenant_id = :t AND status = ANY(:s)",
            t=tenant_id,
            s=list(statuses),
        )
    )


def executions_finished(database: Database, tenant_id: uuid.UUID) -> int:
    return executions_in(database, tenant_id, "completed", "failed", "cancelled")


def run_started(database: Database, execution_id: uuid.UUID) -> bool:
    return bool(
        probe_value(
            database,
            "SELECT EXISTS (SELECT 1 FROM tasks t JOIN agent_runs r ON r.task_id = t.id "
            "WHERE t.workflow_execution_id = :e) AS bench_probe",
            e=execution_id,
        )
    )


def execution_done(database: Database, execution_id: uuid.UUID) -> bool:
    return bool(
        probe_value(
            database,
            "SELECT status IN ('completed', 'failed', 'cancelled') AS bench_probe "
            "FROM ai_workflow_executions WHERE id = :e",
            e=execution_id,
        )
    )


def execution_failures(database: Database, tenant_id: uuid.UUID) -> str:
    rows = probe_rows(
        database,
        "SELECT status, left(error_log::text, 300) AS error, count(*) AS bench_probe "
        "FROM ai_workflow_executions WHERE tenant_id = :t AND status <> 'completed' "
        "GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 5",
        t=tenant_id,
    )
    return "; ".join(f"{r.bench_probe} x {r.status} {r.error}" for r in rows) or "none"


def lead_step_rows(database: Database, tenant_id: uuid.UUID, step_key: str) -> dict[str, int]:
    """Rows written only because of the leading condition step ``step_key`` (see
    ``workload.LEAD_STEP``): its step run, its two transitions' events, 'next step: gate' and
    the execution's 'running' event."""
    row = probe_rows(
        database,
        "SELECT (SELECT count(*) FROM ai_workflow_step_runs WHERE tenant_id = :t "
        "AND step_key = :k) AS step_runs, (SELECT count(*) FROM event_logs WHERE tenant_id = :t "
        "AND (data->>'step' = :k OR data->>'from' = :k "
        "OR (data->>'from' = 'pending' AND data->>'to' = 'running'))) AS events, "
        "1 AS bench_probe",
        t=tenant_id,
        k=step_key,
    )[0]
    return {"ai_workflow_step_runs": int(row.step_runs), "event_logs": int(row.events)}


def table_snapshot(database: Database) -> tuple[dict[str, int], dict[str, int]]:
    """Exact row counts and pg_total_relation_size of every table, in one snapshot."""
    with database.engine.connect() as connection:
        names = list(
            connection.execute(
                sa.text(
                    "SELECT relname AS bench_probe FROM pg_stat_user_tables "
                    "WHERE schemaname = 'public' ORDER BY 1"
                )
            ).scalars()
        )
        counts = connection.execute(
            sa.text(
                "SELECT "
                + ", ".join(f'(SELECT count(*) FROM public."{name}")' for name in names)
                + ", 1 AS bench_probe"
            )
        ).one()
        sizes = connection.execute(
            sa.text(
                "SELECT relname, pg_total_relation_size(relid) AS bytes, 1 AS bench_probe "
                "FROM pg_stat_user_tables WHERE schemaname = 'public'"
            )
        ).all()
    rows = {name: int(count) for name, count in zip(names, counts[:-1], strict=True)}
    return rows, {row.relname: int(row.bytes) for row in sizes}


_LATENCIES = """
SELECT a.id, a.decided_at, t.created_at AS task_created, t.started_at AS task_started,
       min(r.started_at) AS run_started, 1 AS bench_probe
FROM approvals a
JOIN tasks t ON t.workflow_execution_id = a.workflow_execution_id AND t.workflow_step = 'work'
JOIN agent_runs r ON r.task_id = t.id
WHERE a.tenant_id = :t AND a.decided_at IS NOT NULL
GROUP BY a.id, a.decided_at, t.created_at, t.started_at
"""


def latencies(
    database: Database, tenant_id: uuid.UUID, calls: dict[uuid.UUID, tuple[float, float]]
) -> dict[str, list[float]]:
    intervals: dict[str, list[float]] = {key: [] for key, _ in INTERVALS}
    for row in probe_rows(database, _LATENCIES, t=tenant_id):
        if row.id not in calls:
            continue
        call_start, call_end = calls[row.id]
        decided, created = epoch(row.decided_at), epoch(row.task_created)
        claimed, started = epoch(row.task_started), epoch(row.run_started)
        for key, ms in (
            ("call_to_decided", decided - call_start),
            ("decided_to_task_created", created - decided),
            ("task_created_to_claimed", claimed - created),
            ("claimed_to_run_started", started - claimed),
            ("decided_to_run_started", started - decided),
            ("call_to_run_started", started - call_start),
            ("resolve_call", call_end - call_start),
        ):
            intervals[key].append(ms * 1000)
    if len(intervals[HEADLINE]) != len(calls):
        raise BenchError(
            f"found the next step's agent run of {len(intervals[HEADLINE])} of "
            f"{len(calls)} resolved approvals"
        )
    return intervals


def pending_approvals(
    database: Database, tenant_id: uuid.UUID
) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(approval, execution) of the tenant's pending approvals, oldest first."""
    return [
        (row.id, row.workflow_execution_id)
        for row in probe_rows(
            database,
            "SELECT id, workflow_execution_id, 1 AS bench_probe FROM approvals "
            "WHERE tenant_id = :t AND status = 'pending' ORDER BY created_at, id",
            t=tenant_id,
        )
    ]
