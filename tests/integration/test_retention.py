"""Retention (worker.ops.retention): exactly the rows past each policy go, in batches, per
tenant, never unfinished work; the summed metrics stay right; a concurrent writer is not held
up. Retention runs as the runtime role, which row-level security confines."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from models.tenant_scope import tenant_scope
from tests.support.rows import RowFactory
from worker.cli.retention import retention as retention_command
from worker.core.settings import get_settings
from worker.ops.metrics import read_snapshot
from worker.ops.retention.policies import (
    RetentionSettingError,
    effective_policies,
    policy_named,
    save_override,
)
from worker.ops.retention.sweep import run_retention

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


def _cutoff(policy: str) -> datetime:
    return NOW - timedelta(days=policy_named(policy).keep_days)


def _ids(engine: sa.Engine, table: str) -> set[Any]:
    with engine.begin() as connection:
        return set(connection.execute(sa.text(f"SELECT id FROM {table}")).scalars())


@pytest.fixture
def rows(engine: sa.Engine) -> Iterator[RowFactory]:
    """Rows written as the owner, one transaction per test (committed on exit of the block)."""
    with engine.begin() as connection:
        yield RowFactory(connection)


def _tenant(engine: sa.Engine, slug: str) -> uuid.UUID:
    with engine.begin() as connection:
        return RowFactory(connection).insert("tenants", slug=slug, name=slug)


def _events(engine: sa.Engine, tenant: uuid.UUID, count: int, created_at: datetime) -> None:
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO event_logs (tenant_id, event_type, content, created_at) "
                "SELECT :t, 'LOG', 'old ' || n, :at FROM generate_series(1, :n) AS n"
            ),
            {"t": tenant, "n": count, "at": created_at},
        )


def _count(engine: sa.Engine, table: str, where: str = "true", **values: Any) -> int:
    with engine.begin() as connection:
        return int(
            connection.execute(
                sa.text(f"SELECT count(*) FROM {table} WHERE {where}"), values
            ).scalar_one()
        )


def test_each_policy_deletes_exactly_the_rows_past_its_cutoff_and_keeps_the_boundary(
    engine: sa.Engine, runtime_engine: sa.Engine
) -> None:
    gone: dict[str, set[Any]] = {}
    kept: dict[str, set[Any]] = {}
    with engine.begin() as connection:
        rows = RowFactory(connection)

        def past(table: str, **values: Any) -> None:
            gone.setdefault(table, set()).add(rows.insert(table, **values))

        def keep(table: str, **values: Any) -> None:
            kept.setdefault(table, set()).add(rows.insert(table, **values))

        def aged(policy: str, column: str, table: str, **values: Any) -> None:
            cutoff = _cutoff(policy)
            past(table, **{column: cutoff - SECOND}, **values)
            keep(table, **{column: cutoff}, **values)  # exactly at the cutoff: kept
            keep(table, **{column: cutoff + SECOND}, **values)

        latency = {"metric_category": "latency", "metric_name": "llm.chat.latency_ms"}
        aged("performance_metrics", "measurement_timestamp", "ai_performance_metrics", **latency)
        aged("error_logs", "created_at", "ai_error_logs", severity="low")
        aged("training_data", "created_at", "ai_training_data")
        aged("expired_recommendations", "expires_at", "ai_recommendations")
        keep("ai_recommendations", expires_at=None)  # never expires
        aged("event_logs", "created_at", "event_logs")
        aged("action_logs", "created_at", "action_logs")
        aged("finished_tasks", "updated_at", "tasks", status="SUCCEEDED")
        past("tasks", status="FAILED", updated_at=_cutoff("finished_tasks") - SECOND)
        aged("webhook_deliveries", "delivered_at", "webhook_deliveries", status="succeeded")
        keep(
            "webhook_deliveries",
            status="pending",
            updated_at=_cutoff("webhook_deliveries") - timedelta(days=400),
        )
        # Rows of no tenant follow the system-wide policy.
        past(
            "ai_performance_metrics",
            tenant_id=None,
            measurement_timestamp=_cutoff("performance_metrics") - SECOND,
            **latency,
        )

    report = run_retention(runtime_engine, now=NOW)

    assert report.errors == ()
    for table in kept:
        remaining = _ids(engine, table)
        assert kept[table] <= remaining, table
        assert not (gone.get(table, set()) & remaining), table
    assert {o.policy: o.rows for o in report.outcomes if o.tenant_id is not None} == {
        "performance_metrics": 1,
        "error_logs": 1,
        "training_data": 1,
        "expired_recommendations": 1,
        "event_logs": 1,
        "action_logs": 1,
        "finished_tasks": 2,
        "webhook_deliveries": 1,
    }
    shared = {o.policy: o.rows for o in report.outcomes if o.tenant_id is None}
    assert shared == {"performance_metrics": 1, "error_logs": 0}


def test_unfinished_work_and_what_it_references_is_never_deleted(
    engine: sa.Engine, runtime_engine: sa.Engine
) -> None:
    long_ago = NOW - timedelta(days=3650)
    with engine.begin() as connection:
        rows = RowFactory(connection)
        running = rows.insert("tasks", status="RUNNING", updated_at=long_ago)
        waiting = rows.insert("tasks", status="AWAITING_APPROVAL", updated_at=long_ago)
        execution = rows.insert("ai_workflow_executions", status="running")
        in_open_execution = rows.insert(
            "tasks", status="SUCCEEDED", updated_at=long_ago, workflow_execution_id=execution
        )
        gated = rows.insert("tasks", status="SUCCEEDED", updated_at=long_ago)
        rows.insert("approvals", task_id=gated, status="pending")
        run = rows.insert("agent_runs", task_id=running, started_at=long_ago)
        protected_events = {
            rows.insert("event_logs", task_id=running, agent_run_id=run, created_at=long_ago),
            rows.insert("event_logs", task_id=waiting, created_at=long_ago),
            rows.insert("event_logs", workflow_execution_id=execution, created_at=long_ago),
        }
        protected_actions = {rows.insert("action_logs", task_id=running, created_at=long_ago)}
        finished = rows.insert("tasks", status="CANCELLED", updated_at=long_ago)
        finished_event = rows.insert("event_logs", task_id=finished, created_at=long_ago)

    report = run_retention(runtime_engine, now=NOW)

    assert {running, waiting, in_open_execution, gated} <= _ids(engine, "tasks")
    assert finished not in _ids(engine, "tasks")
    assert run in _ids(engine, "agent_runs")
    events = _ids(engine, "event_logs")
    assert protected_events <= events and finished_event not in events
    assert protected_actions <= _ids(engine, "action_logs")
    assert report.by_policy()["finished_tasks"] == 1


def test_deletion_goes_in_batches_of_at_most_the_batch_size(
    engine: sa.Engine, runtime_engine: sa.Engine
) -> None:
    tenant = _tenant(engine, "batches")
    _events(engine, tenant, 2500, NOW - timedelta(days=100))
    _events(engine, tenant, 7, NOW - timedelta(days=10))
    seen: list[int] = []

    report = run_retention(
        runtime_engine,
        now=NOW,
        policies=["event_logs"],
        batch_size=1000,
        on_batch=lambda _policy, rows: seen.append(rows),
    )

    (outcome,) = [o for o in report.outcomes if o.tenant_id == tenant]
    assert (outcome.rows, outcome.batches) == (2500, 3)
    assert seen == [1000, 1000, 500]
    # The 7 recent events and the one retention wrote about itself.
    assert _count(engine, "event_logs", "tenant_id = :t", t=tenant) == 8

    _events(engine, tenant, 2500, NOW - timedelta(days=100))
    limited = run_retention(
        runtime_engine, now=NOW, policies=["event_logs"], batch_size=1000, max_batches=2
    )
    (outcome,) = [o for o in limited.outcomes if o.tenant_id == tenant]
    assert (outcome.rows, outcome.batches, outcome.stopped_early) == (2000, 2, True)


def test_a_tenants_override_applies_to_that_tenant_only(
    engine: sa.Engine, runtime_engine: sa.Engine
) -> None:
    strict, lenient, other = (_tenant(engine, slug) for slug in ("strict", "lenient", "other"))
    for tenant in (strict, lenient, other):
        _events(engine, tenant, 3, NOW - timedelta(days=40))
        _events(engine, tenant, 2, NOW - timedelta(days=20))
    with tenant_scope(strict), runtime_engine.begin() as connection:
        save_override(connection, strict, "event_logs", keep_days=10)
    with tenant_scope(None), runtime_engine.begin() as connection:
        save_override(connection, None, "event_logs", keep_days=30)  # system-wide
    with tenant_scope(lenient), runtime_engine.begin() as connection:
        save_override(connection, lenient, "event_logs", enabled=False)

    report = run_retention(runtime_engine, now=NOW, policies=["event_logs"])

    deleted = {o.tenant_id: o.rows for o in report.outcomes}
    assert deleted == {strict: 5, lenient: 0, other: 3}
    with tenant_scope(lenient), runtime_engine.begin() as connection:
        applied = {p.name: p for p in effective_policies(connection, lenient)}
    assert not applied["event_logs"].enabled and applied["action_logs"].enabled


def test_an_invalid_override_is_refused_with_what_to_do_and_skips_only_its_tenant(
    engine: sa.Engine, runtime_engine: sa.Engine
) -> None:
    broken, fine = _tenant(engine, "broken"), _tenant(engine, "fine")
    with tenant_scope(broken), runtime_engine.begin() as connection:
        with pytest.raises(RetentionSettingError, match=r"keep_days must be a whole number"):
            save_override(connection, broken, "event_logs", keep_days=0)
        with pytest.raises(RetentionSettingError, match=r"no retention policy 'events'"):
            save_override(connection, broken, "events", keep_days=5)
    with engine.begin() as connection:
        RowFactory(connection).insert(
            "system_settings", tenant_id=broken, key="retention.event_logs", value={"keep": 3}
        )
    for tenant in (broken, fine):
        _events(engine, tenant, 2, NOW - timedelta(days=100))

    report = run_retention(runtime_engine, now=NOW, policies=["event_logs"])

    (error,) = report.errors
    assert str(broken) in error and "retention.event_logs" in error
    assert '{"keep_days": N}' in error
    assert {o.tenant_id: o.rows for o in report.outcomes} == {fine: 2}
    assert _count(engine, "event_logs", "tenant_id = :t", t=broken) == 2


def test_a_dry_run_counts_and_deletes_nothing(engine: sa.Engine, runtime_engine: sa.Engine) -> None:
    tenant = _tenant(engine, "dry")
    _events(engine, tenant, 40, NOW - timedelta(days=100))
    before = _count(engine, "event_logs")

    dry = run_retention(runtime_engine, now=NOW, dry_run=True)

    assert dry.by_policy()["event_logs"] == 40 and dry.batches == 0
    assert _count(engine, "event_logs") == before
    assert _count(engine, "retained_totals") == 0
    real = run_retention(runtime_engine, now=NOW)
    assert real.by_policy() == dry.by_policy()


def test_each_tenant_gets_an_event_of_what_was_removed(
    engine: sa.Engine, runtime_engine: sa.Engine
) -> None:
    tenant, idle = _tenant(engine, "reported"), _tenant(engine, "idle")
    _events(engine, tenant, 12, NOW - timedelta(days=100))

    run_retention(runtime_engine, now=NOW)

    with engine.begin() as connection:
        (event,) = connection.execute(
            sa.text(
                "SELECT tenant_id, task_id, workflow_execution_id, event_type, content, data "
                "FROM event_logs WHERE agent_role = 'retention'"
            )
        ).all()
    assert (event.tenant_id, event.task_id, event.workflow_execution_id) == (tenant, None, None)
    assert event.event_type == "SYSTEM" and "12" in event.content
    assert event.data["retention"]["event_logs"]["rows"] == 12
    assert event.data["retention"]["event_logs"]["batches"] == 1
    assert idle != tenant


def test_summed_metrics_do_not_drop_when_their_rows_are_deleted(
    engine: sa.Engine, runtime_engine: sa.Engine
) -> None:
    long_ago = NOW - timedelta(days=3650)
    with engine.begin() as connection:
        rows = RowFactory(connection)
        for status, calls in (("SUCCEEDED", 3), ("SUCCEEDED", 2), ("FAILED", 1)):
            task = rows.insert("tasks", status=status, updated_at=long_ago)
            rows.insert(
                "agent_runs",
                task_id=task,
                llm_calls=calls,
                prompt_tokens=100 * calls,
                completion_tokens=10 * calls,
                cost=Decimal("0.25") * calls,
            )
        recent = rows.insert("tasks", status="SUCCEEDED", updated_at=NOW)
        rows.insert("agent_runs", task_id=recent, llm_calls=7, prompt_tokens=70)
        for milliseconds, ok, when in (
            ("40", True, long_ago),
            ("300", False, long_ago),
            ("45000", True, long_ago),
            ("80", True, NOW),
        ):
            rows.insert(
                "ai_performance_metrics",
                metric_category="latency",
                metric_name="llm.chat.latency_ms",
                metric_value=Decimal(milliseconds),
                measurement_context={"ok": ok},
                measurement_timestamp=when,
            )
    with engine.begin() as connection:
        before = read_snapshot(connection)

    report = run_retention(runtime_engine, now=NOW)

    assert report.by_policy()["finished_tasks"] == 3
    assert report.by_policy()["performance_metrics"] == 3
    assert _count(engine, "agent_runs") == 1
    with engine.begin() as connection:
        after = read_snapshot(connection)
    assert after.tasks == before.tasks and after.tasks["SUCCEEDED"] == 3
    assert (after.llm_calls, after.prompt_tokens, after.completion_tokens) == (13, 670, 60)
    assert after.cost_usd == before.cost_usd == Decimal("1.5")
    assert after.latency == before.latency and after.latency["chat"].count == 4
    assert after.llm_failed_attempts == before.llm_failed_attempts == 1
    assert after.retention_deleted["finished_tasks"] == 3
    assert after.retention_deleted["performance_metrics"] == 3
    # A run that finds nothing more changes nothing.
    run_retention(runtime_engine, now=NOW)
    with engine.begin() as connection:
        assert read_snapshot(connection) == after


def test_a_concurrent_writer_is_never_held_up_and_loses_nothing(
    engine: sa.Engine, runtime_engine: sa.Engine
) -> None:
    tenant = _tenant(engine, "busy")
    _events(engine, tenant, 30_000, NOW - timedelta(days=100))
    stop = threading.Event()
    waits: list[float] = []
    written: list[int] = []
    failures: list[BaseException] = []

    def writer() -> None:
        try:
            with tenant_scope(tenant):
                while not stop.is_set():
                    started = time.perf_counter()
                    with runtime_engine.begin() as connection:
                        written.append(
                            connection.execute(
                                sa.text(
                                    "INSERT INTO event_logs (tenant_id, event_type, content) "
                                    "VALUES (:t, 'LOG', 'live') RETURNING id"
                                ),
                                {"t": tenant},
                            ).scalar_one()
                        )
                    waits.append(time.perf_counter() - started)
        except BaseException as error:  # reported below, in the test's thread
            failures.append(error)

    thread = threading.Thread(target=writer, daemon=True)
    thread.start()
    try:
        while len(written) < 20:
            time.sleep(0.01)
        during = len(written)
        report = run_retention(
            runtime_engine, tenant_ids=[tenant], policies=["event_logs"], batch_size=500
        )
        during = len(written) - during
    finally:
        stop.set()
        thread.join(timeout=30)

    assert not failures, failures
    assert report.by_policy()["event_logs"] == 30_000 and report.batches == 60
    assert during > 0, "the writer wrote nothing while retention ran"
    assert max(waits) < 1.0, f"the writer waited {max(waits):.3f}s"
    assert set(written) <= _ids(engine, "event_logs")


@pytest.fixture
def settings_from(runtime_database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("DATABASE_URL", runtime_database_url)
    get_settings.cache_clear()
    try:
        yield
    finally:
        get_settings.cache_clear()


def test_the_command_shows_per_policy_what_would_go_then_deletes_it(
    engine: sa.Engine, settings_from: None
) -> None:
    tenant = _tenant(engine, "cli")
    _tenant(engine, "untouched")
    _events(engine, tenant, 5, datetime.now(UTC) - timedelta(days=100))
    runner = CliRunner()

    dry = runner.invoke(retention_command, ["run", "--dry-run", "--tenant", "cli", "--json"])
    assert dry.exit_code == 0, dry.output
    shown = json.loads(dry.stdout)
    assert shown["dry_run"] and shown["by_policy"]["event_logs"] == 5
    assert {o["tenant_id"] for o in shown["outcomes"]} == {str(tenant)}
    assert _count(engine, "event_logs", "tenant_id = :t", t=tenant) == 5

    table = runner.invoke(retention_command, ["run", "--tenant", "cli"])
    assert table.exit_code == 0, table.output
    line = next(row for row in table.stdout.splitlines() if " event_logs " in row)
    assert line.split()[-2:] == ["5", "1"]  # deleted, batches
    assert _count(engine, "event_logs", "tenant_id = :t AND agent_role IS NULL", t=tenant) == 0

    changed = runner.invoke(
        retention_command, ["set", "event_logs", "--tenant", "cli", "--keep-days", "7"]
    )
    assert changed.exit_code == 0, changed.output
    assert "keeps 7 days" in changed.stdout
    shown = runner.invoke(retention_command, ["policies", "--tenant", "cli", "--json"])
    assert {p["name"]: p["keep_days"] for p in json.loads(shown.stdout)}["event_logs"] == 7

    refused = runner.invoke(
        retention_command, ["set", "event_logs", "--tenant", "cli", "--keep-days", "-1"]
    )
    assert refused.exit_code == 1 and "keep_days must be a whole number" in refused.output
    unknown = runner.invoke(retention_command, ["run", "--tenant", "nobody"])
    assert unknown.exit_code == 2 and "--tenant" in unknown.output
