"""Folding settled history into the metrics totals (worker.ops.metrics_folding, migration 0018):
every figure reads the same before and after, only settled rows are folded, and a fold beside
retention (or beside another fold) counts no row twice. As the runtime role, as deployed."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from tests.support.rows import RowFactory
from worker.ops.metrics import MetricsSnapshot, read_snapshot
from worker.ops.metrics_folding import fold_settled_history
from worker.ops.retention.sweep import run_retention

LONG_AGO = datetime.now(UTC) - timedelta(days=3650)
AN_HOUR_AGO = datetime.now(UTC) - timedelta(hours=1)


def _snapshot(engine: sa.Engine) -> MetricsSnapshot:
    with engine.begin() as connection:
        return read_snapshot(connection)


def _folded(engine: sa.Engine, table: str) -> set[Any]:
    with engine.begin() as connection:
        return set(
            connection.execute(sa.text(f"SELECT id FROM {table} WHERE metrics_folded")).scalars()
        )


def _updated_at(engine: sa.Engine) -> dict[Any, datetime]:
    with engine.begin() as connection:
        rows = connection.execute(sa.text("SELECT id, updated_at FROM tasks")).all()
    return {task: at for task, at in rows}


def _task(
    rows: RowFactory,
    status: str,
    *,
    at: datetime = AN_HOUR_AGO,
    calls: int = 2,
    run_status: str = "COMPLETED",
    tenant: uuid.UUID | None = None,
) -> Any:
    owner = {} if tenant is None else {"tenant_id": tenant}
    task = rows.insert("tasks", status=status, updated_at=at, **owner)
    rows.insert(
        "agent_runs",
        task_id=task,
        status=run_status,
        llm_calls=calls,
        prompt_tokens=100 * calls,
        completion_tokens=10 * calls,
        cost=Decimal("0.125") * calls,
        **owner,
    )
    return task


def _latency(
    rows: RowFactory,
    milliseconds: str,
    *,
    ok: bool = True,
    at: datetime = AN_HOUR_AGO,
    name: str = "llm.chat.latency_ms",
    shared: bool = False,
) -> Any:
    return rows.insert(
        "ai_performance_metrics",
        metric_category="latency",
        metric_name=name,
        metric_value=Decimal(milliseconds),
        measurement_context={"ok": ok},
        measurement_timestamp=at,
        **({"tenant_id": None} if shared else {}),
    )


def test_a_fold_leaves_every_figure_as_it_was_and_takes_only_settled_rows(
    engine: sa.Engine, runtime_engine: sa.Engine
) -> None:
    with engine.begin() as connection:
        rows = RowFactory(connection)
        settled = {
            _task(rows, "SUCCEEDED", calls=3),
            _task(rows, "FAILED", calls=1),
            _task(rows, "CANCELLED", calls=0, run_status="CANCELLED"),
        }
        other = RowFactory(connection)  # a second tenant's
        settled.add(_task(other, "SUCCEEDED", calls=5))
        unfinished = _task(rows, "RUNNING", run_status="RUNNING")
        run_still_going = _task(rows, "CANCELLED", run_status="RUNNING")
        just_finished = _task(rows, "SUCCEEDED", at=datetime.now(UTC))
        settled_latency = {
            _latency(rows, "40"),
            _latency(rows, "300", ok=False),
            _latency(rows, "45000"),
            _latency(rows, "250", shared=True),  # on a bound: counts under it
            _latency(rows, "7", name="embedding.call_ms"),  # not in the histogram
        }
        recent_latency = _latency(rows, "80", at=datetime.now(UTC))
    updated_at = _updated_at(engine)
    before = _snapshot(engine)

    report = fold_settled_history(runtime_engine)

    assert (report.tasks, report.latency_rows, report.stopped_early) == (4, 5, False)
    assert _folded(engine, "tasks") == settled
    assert {unfinished, run_still_going, just_finished}.isdisjoint(_folded(engine, "tasks"))
    assert _folded(engine, "ai_performance_metrics") == settled_latency
    assert recent_latency not in _folded(engine, "ai_performance_metrics")
    after = _snapshot(engine)
    assert after == before
    assert after.tasks["SUCCEEDED"] == 3 and after.llm_calls == 15
    assert after.latency["chat"].count == 5 and after.llm_failed_attempts == 1
    # Folding is not a change of the task: retention still ages it from its finish.
    assert _updated_at(engine) == updated_at
    # Nothing more has settled: a second fold changes nothing.
    assert fold_settled_history(runtime_engine).tasks == 0
    assert _snapshot(engine) == after


def test_a_task_folds_once_its_last_run_ends_and_new_work_still_counts_live(
    engine: sa.Engine, runtime_engine: sa.Engine
) -> None:
    with engine.begin() as connection:
        rows = RowFactory(connection)
        waiting = _task(rows, "CANCELLED", run_status="RUNNING", calls=1)
    fold_settled_history(runtime_engine)
    assert waiting not in _folded(engine, "tasks")
    with engine.begin() as connection:
        # The run's last call lands after its task was cancelled, then the run ends.
        connection.execute(
            sa.text("UPDATE agent_runs SET status = 'CANCELLED', llm_calls = 4 WHERE task_id = :t"),
            {"t": waiting},
        )
        _task(RowFactory(connection), "SUCCEEDED", calls=2)
    before = _snapshot(engine)
    assert before.llm_calls == 6

    fold_settled_history(runtime_engine)

    assert waiting in _folded(engine, "tasks")
    assert _snapshot(engine) == before
    with engine.begin() as connection:
        _task(RowFactory(connection), "FAILED", calls=3, at=datetime.now(UTC))
    after = _snapshot(engine)
    assert after.llm_calls == 9 and after.tasks["FAILED"] == before.tasks["FAILED"] + 1


def test_retention_after_a_fold_counts_no_row_twice(
    engine: sa.Engine, runtime_engine: sa.Engine
) -> None:
    with engine.begin() as connection:
        rows = RowFactory(connection)
        for calls in (1, 2, 3):
            _task(rows, "SUCCEEDED", at=LONG_AGO, calls=calls)
        for milliseconds in ("40", "300", "9000"):
            _latency(rows, milliseconds, at=LONG_AGO)
    before = _snapshot(engine)
    assert fold_settled_history(runtime_engine).tasks == 3

    report = run_retention(runtime_engine)

    assert report.by_policy()["finished_tasks"] == 3
    assert report.by_policy()["performance_metrics"] == 3
    after = _snapshot(engine)
    assert replace(after, retention_deleted={}) == before
    assert after.retention_deleted["finished_tasks"] == 3


def _at_once(*calls: Callable[[], object]) -> None:
    start = threading.Barrier(len(calls))
    failures: list[BaseException] = []

    def run(call: Callable[[], object]) -> None:
        start.wait()
        try:
            call()
        except BaseException as error:  # reported by the test thread, below
            failures.append(error)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures


def test_folds_and_retention_at_once_count_each_row_once(
    engine: sa.Engine, runtime_engine: sa.Engine
) -> None:
    with engine.begin() as connection:
        rows = RowFactory(connection)
        tenant = rows.tenant_id
        connection.execute(
            sa.text(
                "INSERT INTO tasks (id, tenant_id, status, attempts, updated_at)"
                " SELECT gen_random_uuid(), :t, CASE WHEN n % 7 = 0 THEN 'FAILED'"
                " ELSE 'SUCCEEDED' END, 1, :at FROM generate_series(1, 600) AS n"
            ),
            {"t": tenant, "at": LONG_AGO},
        )
        connection.execute(
            sa.text(
                "INSERT INTO agent_runs (tenant_id, task_id, agent_name, status, llm_calls,"
                " prompt_tokens, completion_tokens, cost) SELECT :t, id, 'a', 'COMPLETED', 2,"
                " 50, 5, 0.01 FROM tasks WHERE tenant_id = :t"
            ),
            {"t": tenant},
        )
        connection.execute(
            sa.text(
                "INSERT INTO ai_performance_metrics (tenant_id, metric_category, metric_name,"
                " metric_value, measurement_timestamp, measurement_context) SELECT :t,"
                " 'latency', 'llm.chat.latency_ms', n % 700, :at,"
                " jsonb_build_object('ok', n % 9 <> 0) FROM generate_series(1, 600) AS n"
            ),
            {"t": tenant, "at": LONG_AGO},
        )
    before = _snapshot(engine)

    def fold() -> None:
        fold_settled_history(runtime_engine, batch_size=15)

    def retain() -> None:
        run_retention(runtime_engine, batch_size=15, tenant_ids=[tenant])

    _at_once(fold, fold, retain)
    run_retention(runtime_engine, tenant_ids=[tenant])  # what the race left

    with engine.begin() as connection:
        left = connection.execute(sa.text("SELECT count(*) FROM tasks")).scalar_one()
    assert left == 0
    after = _snapshot(engine)
    assert replace(after, retention_deleted={}) == before
    assert after.retention_deleted["finished_tasks"] == 600
    assert after.retention_deleted["performance_metrics"] == 600
