"""A tenant's budget per day and month (worker.agents.tenant_budgets) and grants of more budget
(worker.agents.budget_grants): no call starts once the tenant has spent a limit, under
concurrency too, and a budget that asks parks the run until an approver decides.

The local LLM server asks for a tool, then answers: two calls a run, each costing a little
(local_runtime prices every ``model-…`` model)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from models.tenant_scope import tenant_scope
from tests.support.agents import add_agent, ensure_tenant
from tests.support.api_calls import bearer, serve, tenant_key
from tests.support.people import add_member
from tests.support.publisher import RecordingPublisher
from tests.support.runs import local_runtime, submit
from worker.agents.runner import execute_task
from worker.agents.submission import create_task
from worker.agents.tenant_budgets import spend_of
from worker.approvals import cli_principal, resolve
from worker.core.contract import RunTaskRequest
from worker.core.settings import Settings
from worker.ops.metrics import render_metrics


def _set(engine: sa.Engine, tenant: str, key: str, value: Any) -> None:
    tenant_id = ensure_tenant(engine, tenant)
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO system_settings (tenant_id, key, value) "
                "VALUES (:t, :k, CAST(:v AS jsonb))"
            ),
            {"t": tenant_id, "k": key, "v": json.dumps(value)},
        )


def _call_costs(engine: sa.Engine, tenant_id: uuid.UUID) -> list[Decimal]:
    """What each LLM call of the tenant cost, exactly, from its LLM_CALL events."""
    with engine.connect() as connection:
        return [
            Decimal(cost)
            for cost in connection.execute(
                sa.text(
                    "SELECT data ->> 'cost' FROM event_logs "
                    "WHERE tenant_id = :t AND event_type = 'LLM_CALL' ORDER BY id"
                ),
                {"t": tenant_id},
            ).scalars()
        ]


def _calibrated_costs(engine: sa.Engine, database_url: str) -> list[Decimal]:
    """What the two calls of one run cost, in order, measured on another tenant: the same
    prompts cost the same whatever the agent's name."""
    add_agent(engine, "measure", tools=["current_time"], tenant="calibration")
    with engine.begin() as connection:
        task_id = create_task(
            connection,
            Settings(),
            RunTaskRequest(tenant="calibration", agent="measure", input="find a venue"),
            idempotency_key=None,
        ).task_id
    with local_runtime(database_url) as (runtime, _):
        assert execute_task(runtime, task_id).status == "succeeded"
    return _call_costs(engine, ensure_tenant(engine, "calibration"))


def _tasks(engine: sa.Engine, tenant_id: uuid.UUID) -> list[sa.Row[Any]]:
    with engine.connect() as connection:
        return list(
            connection.execute(
                sa.text("SELECT id, status, error_code, error FROM tasks WHERE tenant_id = :t"),
                {"t": tenant_id},
            )
        )


def test_twenty_concurrent_runs_never_spend_past_the_tenants_budget_by_more_than_one_call(
    engine: sa.Engine, database_url: str, runtime_database_url: str
) -> None:
    call = max(_calibrated_costs(engine, database_url))
    limit = (call * 9).quantize(Decimal("0.000000001"))  # room for ~9 of the 40 calls asked
    tenant_id = ensure_tenant(engine, "acme")
    _set(engine, "acme", "budget.daily_usd", str(limit))
    add_agent(engine, "busy", tools=["current_time"])
    tasks = [submit(engine, "busy") for _ in range(20)]

    with local_runtime(runtime_database_url) as (runtime, _):

        def run(task_id: uuid.UUID) -> str:
            with tenant_scope(tenant_id):
                return execute_task(runtime, task_id).status

        with ThreadPoolExecutor(20) as pool:
            statuses = list(pool.map(run, tasks))

    costs = _call_costs(engine, tenant_id)
    total = sum(costs, Decimal(0))
    assert total <= limit + max(costs), (total, limit, max(costs))
    assert total >= limit - max(costs) * 2  # the budget was used, not refused early
    assert "failed" in statuses and set(statuses) <= {"succeeded", "failed"}
    failed = [t for t in _tasks(engine, tenant_id) if t.status == "FAILED"]
    assert {t.error_code for t in failed} == {"budget_exceeded"}
    assert all("budget.daily_usd" in t.error and "raise" in t.error for t in failed)
    with engine.connect() as connection:
        day = {s.period.value: s for s in spend_of(connection, tenant_id)}["day"]
        in_flight = connection.execute(
            sa.text("SELECT count(*) FROM spend_reservations WHERE tenant_id = :t"),
            {"t": tenant_id},
        ).scalar_one()
    # The tenant's counter is exact: every call, at its exact cost, and nothing left in flight.
    assert (day.spent_usd, day.llm_calls, in_flight) == (total, len(costs), 0)
    assert day.limit_usd == limit


def test_a_run_past_its_tenants_budget_fails_before_the_call_saying_what_to_raise(
    engine: sa.Engine, database_url: str
) -> None:
    tenant_id = ensure_tenant(engine, "acme")
    _set(engine, "acme", "budget.monthly_usd", "0.000000001")
    add_agent(engine, "thrifty", tools=["current_time"])
    task_id = submit(engine, "thrifty")

    with local_runtime(database_url) as (runtime, llm):
        outcome = execute_task(runtime, task_id)
        calls = llm.stats.snapshot()["chat_completions"]

    # The first call starts below the limit; the one after it would start past it.
    assert (outcome.status, calls) == ("failed", 1)
    (task,) = _tasks(engine, tenant_id)
    assert task.error_code == "budget_exceeded"
    assert "monthly budget is spent" in task.error and "'budget.monthly_usd'" in task.error
    with engine.connect() as connection:
        (event,) = connection.execute(
            sa.text("SELECT data FROM event_logs WHERE task_id = :t AND event_type = 'ERROR'"),
            {"t": task_id},
        ).scalars()
    assert event["limit"] == "budget.monthly_usd" and event["period"] == "month"
    assert event["budget_usd"] == "0.000000001" and event["spent"]["llm_calls"] == 1


def test_a_budget_set_mid_month_counts_what_the_month_spent_before_it(
    engine: sa.Engine, database_url: str
) -> None:
    tenant_id = ensure_tenant(engine, "acme")
    add_agent(engine, "early", tools=["current_time"])
    first = submit(engine, "early")
    with local_runtime(database_url) as (runtime, _):
        assert execute_task(runtime, first).status == "succeeded"
    before = sum(_call_costs(engine, tenant_id), Decimal(0))
    with engine.connect() as connection:
        shown = {s.period.value: s for s in spend_of(connection, tenant_id)}
    # With no budget nothing is counted as it goes: what is shown is what the runs recorded
    # (their cost column keeps 6 decimals).
    assert shown["month"].limit_usd is None and shown["month"].llm_calls == 2
    assert shown["month"].spent_usd == before.quantize(Decimal("0.000001"))
    # A limit the month has already used up: the next run makes no call at all. (A worker
    # reads a tenant's limits once per few seconds: a new runtime reads them at once.)
    _set(engine, "acme", "budget.monthly_usd", str(before))
    second = submit(engine, "early")
    with local_runtime(database_url) as (runtime, llm):
        assert execute_task(runtime, second).status == "failed"
        assert llm.stats.snapshot()["chat_completions"] == 0


@pytest.mark.parametrize(
    ("key", "value", "says"),
    [
        ("budget.daily_usd", "lots", "write a positive number of dollars"),
        ("budget.monthly_usd", -5, "write a positive number of dollars"),
        ("budget.on_exceeded", "beg", 'write "fail"'),
    ],
)
def test_a_budget_setting_that_cannot_be_read_fails_the_run_naming_the_row(
    engine: sa.Engine, database_url: str, key: str, value: Any, says: str
) -> None:
    tenant_id = ensure_tenant(engine, "acme")
    _set(engine, "acme", key, value)
    if key == "budget.on_exceeded":
        _set(engine, "acme", "budget.daily_usd", 5)
    add_agent(engine, "misconfigured")
    task_id = submit(engine, "misconfigured")
    with local_runtime(database_url) as (runtime, llm):
        assert execute_task(runtime, task_id).status == "failed"
        assert llm.stats.snapshot()["chat_completions"] == 0
    (task,) = _tasks(engine, tenant_id)
    assert task.error_code == "invalid_budget_setting"
    assert repr(key) in task.error and says in task.error


def test_a_reservation_left_by_a_dead_worker_blocks_nobody_once_it_expires(
    engine: sa.Engine, database_url: str
) -> None:
    tenant_id = ensure_tenant(engine, "acme")
    _set(engine, "acme", "budget.daily_usd", "5")
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO spend_reservations (tenant_id, estimate_usd, expires_at) "
                "VALUES (:t, 5, now() - interval '1 second')"
            ),
            {"t": tenant_id},
        )
    add_agent(engine, "after-a-crash", tools=["current_time"])
    task_id = submit(engine, "after-a-crash")
    with local_runtime(database_url) as (runtime, _):
        assert execute_task(runtime, task_id).status == "succeeded"
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM spend_reservations")).scalar() == 0


def _pending_grant(engine: sa.Engine, task_id: uuid.UUID) -> sa.Row[Any]:
    with engine.connect() as connection:
        return connection.execute(
            sa.text(
                "SELECT a.id, a.title, a.payload, t.status FROM approvals a "
                "JOIN tasks t ON t.id = a.task_id "
                "WHERE a.task_id = :t AND a.kind = 'budget_grant' AND a.status = 'pending'"
            ),
            {"t": task_id},
        ).one()


def test_a_run_paused_for_its_budget_resumes_when_an_approver_grants_more(
    engine: sa.Engine, database_url: str
) -> None:
    add_member(engine, "acme", "boss@example.com", "approver")
    add_agent(
        engine,
        "asker",
        tools=["current_time"],
        budget={"max_llm_calls": 1, "on_exceeded": "ask"},
    )
    task_id = submit(engine, "asker")
    with local_runtime(database_url) as (runtime, llm):
        assert execute_task(runtime, task_id).status == "awaiting_approval"
        grant = _pending_grant(engine, task_id)
        assert grant.status == "AWAITING_APPROVAL"
        assert grant.payload["grant"] == {"max_llm_calls": 1} and "1 more LLM calls" in grant.title
        # Redelivered while it waits: it asks nothing twice and calls nothing.
        assert execute_task(runtime, task_id).status == "skipped"

        publisher = RecordingPublisher()
        resolve(
            engine, publisher, grant.id, "approve", "boss@example.com", principal=cli_principal()
        )
        assert [kwargs for _, kwargs, _ in publisher.sent] == [{"task_id": str(task_id)}]
        outcome = execute_task(runtime, task_id)
        calls = llm.stats.snapshot()["chat_completions"]

    assert (outcome.status, calls) == ("succeeded", 2)
    with engine.connect() as connection:
        assert (
            connection.execute(
                sa.text("SELECT llm_calls FROM agent_runs WHERE task_id = :t"), {"t": task_id}
            ).scalar_one()
            == 2
        )


def test_a_refused_grant_fails_the_run_saying_so(engine: sa.Engine, database_url: str) -> None:
    add_member(engine, "acme", "boss@example.com", "approver")
    add_agent(
        engine, "asker", budget={"max_llm_calls": 1, "on_exceeded": "ask"}, tools=["current_time"]
    )
    task_id = submit(engine, "asker")
    with local_runtime(database_url) as (runtime, _):
        assert execute_task(runtime, task_id).status == "awaiting_approval"
        grant = _pending_grant(engine, task_id)
        resolve(
            engine,
            RecordingPublisher(),
            grant.id,
            "reject",
            "boss@example.com",
            "enough for today",
            principal=cli_principal(),
        )
        assert execute_task(runtime, task_id).status == "failed"
    (task,) = _tasks(engine, ensure_tenant(engine, "acme"))
    assert task.error_code == "budget_exceeded"
    assert "rejected: enough for today" in task.error


def test_a_tenant_budget_that_asks_resumes_its_run_with_the_grant(
    engine: sa.Engine, database_url: str
) -> None:
    first_call = _calibrated_costs(engine, database_url)[0]
    limit = (first_call * Decimal("0.9")).quantize(Decimal("0.000000001"))
    add_member(engine, "acme", "boss@example.com", "approver")
    tenant_id = ensure_tenant(engine, "acme")
    _set(engine, "acme", "budget.daily_usd", str(limit))
    _set(engine, "acme", "budget.on_exceeded", "ask")
    add_agent(engine, "tenant-asker", tools=["current_time"])
    task_id = submit(engine, "tenant-asker")
    with local_runtime(database_url) as (runtime, llm):
        # The first call starts below the limit and ends past it: the second asks.
        assert execute_task(runtime, task_id).status == "awaiting_approval"
        grant = _pending_grant(engine, task_id)
        assert grant.payload["scope"] == "tenant" and grant.payload["period"] == "day"
        assert grant.payload["grant"] == {"usd": str(limit)}
        resolve(
            engine,
            RecordingPublisher(),
            grant.id,
            "approve",
            "boss@example.com",
            principal=cli_principal(),
        )
        with engine.connect() as connection:
            day = {s.period.value: s for s in spend_of(connection, tenant_id)}["day"]
        assert (day.limit_usd, day.granted_usd) == (limit, limit)
        assert execute_task(runtime, task_id).status == "succeeded"
        assert llm.stats.snapshot()["chat_completions"] == 2


def _cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from worker.cli import main; main()", "budgets", *args],
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_cli_the_api_and_the_metrics_show_spend_against_budget(
    engine: sa.Engine,
    database_url: str,
    runtime_engine: sa.Engine,
    runtime_database_url: str,
    broker_url: str,
) -> None:
    ensure_tenant(engine, "acme")
    refused = _cli(database_url, "set", "--tenant", "acme", "--daily-usd", "lots")
    assert refused.returncode != 0 and "not a number of dollars" in refused.stderr
    made = _cli(
        database_url, "set", "--tenant", "acme", "--daily-usd", "2.5", "--on-exceeded", "ask"
    )
    assert made.returncode == 0, made.stderr
    assert "daily budget $2.5, monthly none" in made.stdout and "asks an approver" in made.stdout
    add_agent(engine, "spender", tools=["current_time"], budget={"max_llm_calls": 5})
    task_id = submit(engine, "spender")
    with local_runtime(database_url) as (runtime, _):
        assert execute_task(runtime, task_id).status == "succeeded"
    spent = sum(_call_costs(engine, ensure_tenant(engine, "acme")), Decimal(0))

    shown = _cli(database_url, "show", "--tenant", "acme", "--json")
    assert shown.returncode == 0, shown.stderr
    day = json.loads(shown.stdout)["periods"][0]
    assert (day["period"], day["llm_calls"], day["limit_usd"]) == ("day", 2, "2.5")
    assert Decimal(day["spent_usd"]) == spent
    assert Decimal(day["remaining_usd"]) == Decimal("2.5") - spent
    assert "budget" in _cli(database_url, "show", "--tenant", "acme").stdout

    key = tenant_key(engine, "acme")
    with serve(runtime_database_url, runtime_engine, broker_url, RecordingPublisher()) as api:
        budget = api.get("/v1/budget", headers=bearer(key))
        assert budget.status_code == 200, budget.text
        assert budget.json()["on_exceeded"] == "ask"
        assert budget.json()["periods"][0] == day
        with engine.connect() as connection:
            run_id = connection.execute(
                sa.text("SELECT id FROM agent_runs WHERE task_id = :t"), {"t": task_id}
            ).scalar_one()
        run = api.get(f"/v1/runs/{run_id}", headers=bearer(key)).json()
    assert run["spend"]["budget"] == {"max_llm_calls": 5}
    assert run["spend"]["spent"]["llm_calls"] == 2 and run["spend"]["remaining"] == {
        "max_llm_calls": 3
    }

    exposition = render_metrics(runtime_engine)
    assert 'agentworker_tenant_budget_usd{period="day",tenant="acme"} 2.5' in exposition
    assert f'agentworker_tenant_spend_usd{{period="day",tenant="acme"}} {float(spent)}' in (
        exposition
    )
