"""Prometheus metrics (worker.ops.metrics): figures read from PostgreSQL at scrape time, served over
real HTTP and parsed with prometheus_client's own parser."""

from __future__ import annotations

import logging
import math
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from models import Task
from models.db import create_sync_engine
from tests.support.prometheus import parse, scrape, value
from tests.support.rows import RowFactory
from worker.cli.metrics import metrics as metrics_command
from worker.core.settings import get_settings
from worker.ops.metrics import MetricsServer, serve_metrics


@pytest.fixture
def server(engine: sa.Engine) -> Iterator[MetricsServer]:
    with serve_metrics(engine, "127.0.0.1", 0) as server:
        yield server


def _task(rows: RowFactory, status: str, **values: Any) -> uuid.UUID:
    task_id: uuid.UUID = rows.insert("tasks", status=status, **values)
    return task_id


def _latency(rows: RowFactory, milliseconds: str, *, ok: bool = True, call: str = "chat") -> None:
    rows.insert(
        "ai_performance_metrics",
        metric_category="latency",
        metric_name=f"llm.{call}.latency_ms",
        metric_value=Decimal(milliseconds),
        measurement_context={"model": "local-model", "attempt": 1, "ok": ok},
        measurement_timestamp=datetime.now(UTC),
    )


def _populate(engine: sa.Engine) -> uuid.UUID:
    """Rows in several states; returns a RUNNING task's id."""
    with engine.begin() as connection:
        rows = RowFactory(connection)
        for _ in range(3):
            _task(rows, "PENDING")
        running = _task(rows, "RUNNING")
        _task(rows, "RUNNING")
        succeeded = _task(rows, "SUCCEEDED")
        _task(rows, "FAILED")
        waiting = _task(rows, "AWAITING_APPROVAL")

        for task_id, calls, prompt, completion, cost in (
            (running, 2, 100, 40, "0.001250"),
            (succeeded, 3, 250, 60, "0.002500"),
        ):
            rows.insert(
                "agent_runs",
                task_id=task_id,
                llm_calls=calls,
                prompt_tokens=prompt,
                completion_tokens=completion,
                cost=Decimal(cost),
            )

        for ms in ("40", "80", "300", "1200", "1200", "45000"):
            _latency(rows, ms)
        _latency(rows, "7000", ok=False)
        _latency(rows, "20", call="embeddings")
        # Not LLM latency: a cost metric and a latency row of something else are left out.
        rows.insert(
            "ai_performance_metrics",
            metric_category="cost",
            metric_name="llm.chat.cost_usd",
            metric_value=Decimal("1"),
            measurement_timestamp=datetime.now(UTC),
        )
        rows.insert(
            "ai_performance_metrics",
            metric_category="latency",
            metric_name="tool.search.latency_ms",
            metric_value=Decimal("5"),
            measurement_timestamp=datetime.now(UTC),
        )

        rows.insert(
            "approvals",
            kind="tool_call",
            title="Let agent send an email?",
            task_id=waiting,
            created_at=sa.func.now() - timedelta(seconds=120),
        )
        rows.insert(
            "approvals",
            kind="tool_call",
            title="An approval already decided",
            task_id=succeeded,
            status="approved",
            decided_at=sa.func.now(),
        )

        for status in ("running", "running", "awaiting_approval", "completed"):
            rows.insert("ai_workflow_executions", status=status, workflow_version=1)
    return running


def test_an_empty_database_gives_zeros_not_missing_series(server: MetricsServer) -> None:
    samples = scrape(server)

    for status in ("PENDING", "RUNNING", "AWAITING_APPROVAL", "SUCCEEDED", "FAILED", "CANCELLED"):
        assert value(samples, "agentworker_tasks", status=status) == 0
    assert value(samples, "agentworker_workflow_executions", status="running") == 0
    assert value(samples, "agentworker_llm_calls_total") == 0
    assert value(samples, "agentworker_llm_tokens_total", kind="prompt") == 0
    assert value(samples, "agentworker_llm_cost_usd_total") == 0
    assert value(samples, "agentworker_llm_retries_total") == 0
    assert value(samples, "agentworker_llm_latency_seconds_count", call="chat") == 0
    assert value(samples, "agentworker_approvals_pending") == 0
    assert value(samples, "agentworker_approval_oldest_pending_age_seconds") == 0
    assert value(samples, "agentworker_metrics_database_up") == 1


def test_the_figures_come_from_the_database(engine: sa.Engine, server: MetricsServer) -> None:
    _populate(engine)

    samples = scrape(server)

    assert value(samples, "agentworker_tasks", status="PENDING") == 3
    assert value(samples, "agentworker_tasks", status="RUNNING") == 2
    assert value(samples, "agentworker_tasks", status="SUCCEEDED") == 1
    assert value(samples, "agentworker_tasks", status="FAILED") == 1
    assert value(samples, "agentworker_tasks", status="AWAITING_APPROVAL") == 1
    assert value(samples, "agentworker_tasks", status="CANCELLED") == 0

    assert value(samples, "agentworker_llm_calls_total") == 5
    assert value(samples, "agentworker_llm_tokens_total", kind="prompt") == 350
    assert value(samples, "agentworker_llm_tokens_total", kind="completion") == 100
    assert value(samples, "agentworker_llm_cost_usd_total") == pytest.approx(0.00375)

    assert value(samples, "agentworker_approvals_pending") == 1
    age = value(samples, "agentworker_approval_oldest_pending_age_seconds")
    assert 119 <= age < 180

    assert value(samples, "agentworker_workflow_executions", status="running") == 2
    assert value(samples, "agentworker_workflow_executions", status="awaiting_approval") == 1
    assert value(samples, "agentworker_workflow_executions", status="completed") == 1
    assert value(samples, "agentworker_workflow_executions", status="failed") == 0

    assert value(samples, "agentworker_llm_retries_total") == 1
    assert value(samples, "agentworker_metrics_database_up") == 1


def test_llm_latency_is_a_cumulative_histogram_in_seconds(
    engine: sa.Engine, server: MetricsServer
) -> None:
    _populate(engine)

    samples = scrape(server)

    # chat: 0.04 0.08 0.3 1.2 1.2 45 (ok) and 7 (failed) seconds
    expected = {
        "0.05": 1,
        "0.1": 2,
        "0.25": 2,
        "0.5": 3,
        "1.0": 3,
        "2.5": 5,
        "5.0": 5,
        "10.0": 6,
        "30.0": 6,
        "+Inf": 7,
    }
    for bound, count in expected.items():
        assert value(samples, "agentworker_llm_latency_seconds_bucket", call="chat", le=bound) == (
            count
        ), bound
    assert value(samples, "agentworker_llm_latency_seconds_count", call="chat") == 7
    assert value(samples, "agentworker_llm_latency_seconds_sum", call="chat") == pytest.approx(
        (40 + 80 + 300 + 1200 + 1200 + 45000 + 7000) / 1000
    )
    assert value(samples, "agentworker_llm_latency_seconds_count", call="embeddings") == 1
    assert not any(
        dict(labels).get("call") == "search" for (_, labels) in samples
    )  # tool latency is not LLM latency


def test_a_latency_on_a_bound_counts_under_it(engine: sa.Engine, server: MetricsServer) -> None:
    with engine.begin() as connection:
        rows = RowFactory(connection)
        for ms in ("50", "50.0001", "100", "30000", "30000.0001"):
            _latency(rows, ms)

    samples = scrape(server)

    cumulative = {"0.05": 1, "0.1": 3, "0.25": 3, "10.0": 3, "30.0": 4, "+Inf": 5}
    for bound, count in cumulative.items():
        assert value(samples, "agentworker_llm_latency_seconds_bucket", call="chat", le=bound) == (
            count
        ), bound


def test_the_next_scrape_sees_new_and_changed_rows(
    engine: sa.Engine, server: MetricsServer
) -> None:
    running = _populate(engine)
    before = scrape(server)

    tasks = Task.__table__
    with engine.begin() as connection:
        rows = RowFactory(connection)
        _task(rows, "PENDING")
        connection.execute(sa.update(tasks).where(tasks.c.id == running).values(status="SUCCEEDED"))
        connection.execute(
            sa.text(
                "UPDATE agent_runs SET llm_calls = llm_calls + 1, prompt_tokens = prompt_tokens"
                " + 10, cost = cost + 0.5 WHERE task_id = :id"
            ),
            {"id": running},
        )
        connection.execute(
            sa.text(
                "UPDATE approvals SET status = 'approved', decided_at = now()"
                " WHERE status = 'pending'"
            )
        )
        _latency(rows, "600", ok=False)
    after = scrape(server)

    assert value(after, "agentworker_tasks", status="PENDING") == 4
    assert value(after, "agentworker_tasks", status="RUNNING") == 1
    assert value(after, "agentworker_tasks", status="SUCCEEDED") == 2
    assert (
        value(after, "agentworker_llm_calls_total")
        == value(before, "agentworker_llm_calls_total") + 1
    )
    assert value(after, "agentworker_llm_tokens_total", kind="prompt") == 360
    assert value(after, "agentworker_llm_cost_usd_total") == pytest.approx(0.50375)
    assert value(after, "agentworker_approvals_pending") == 0
    assert value(after, "agentworker_approval_oldest_pending_age_seconds") == 0
    assert value(after, "agentworker_llm_retries_total") == 2
    assert value(after, "agentworker_llm_latency_seconds_bucket", call="chat", le="1.0") == 4


def test_an_unreachable_database_is_reported_not_a_failed_scrape() -> None:
    engine = create_sync_engine(
        "postgresql://nobody:secret@127.0.0.1:1/nothing", connect_args={"connect_timeout": 2}
    )
    try:
        with serve_metrics(engine, "127.0.0.1", 0) as server:
            samples = scrape(server)
    finally:
        engine.dispose()

    assert value(samples, "agentworker_metrics_database_up") == 0
    assert not any(name == "agentworker_tasks" for name, _ in samples)
    assert math.isfinite(value(samples, "agentworker_metrics_scrape_duration_seconds"))


@pytest.fixture
def settings_from(database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The process settings (``get_settings``) read with this test's DATABASE_URL; the root
    logger (which the command configures) restored afterwards."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    get_settings.cache_clear()
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    try:
        yield
    finally:
        get_settings.cache_clear()
        for handler in [h for h in root.handlers if h not in handlers]:
            root.removeHandler(handler)
            handler.close()
        root.setLevel(level)


def test_the_metrics_command_prints_the_exposition_once(
    engine: sa.Engine, settings_from: None
) -> None:
    _populate(engine)

    result = CliRunner().invoke(metrics_command, ["--once"])

    assert result.exit_code == 0, result.output
    samples = parse(result.stdout)
    assert value(samples, "agentworker_tasks", status="PENDING") == 3
    assert value(samples, "agentworker_approvals_pending") == 1


def test_the_metrics_command_fails_when_the_database_cannot_be_read(
    settings_from: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody:secret@127.0.0.1:1/nothing")
    get_settings.cache_clear()

    result = CliRunner().invoke(metrics_command, ["--once"])

    assert result.exit_code == 1
    assert "cannot reach the database" in result.output
