"""A run's budget (worker.agents.budgets): no LLM call starts once the run has spent a limit of
its agent's ``configuration.budget``; the run fails ``budget_exceeded`` saying what it spent and
what to raise. The local LLM server asks for a tool, then answers: two calls a run."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from tests.support.agents import add_agent
from tests.support.local_llm import admin
from tests.support.runs import local_runtime, spent, submit
from worker.agents.definitions import AgentConfiguration
from worker.agents.runner import execute_task
from worker.agents.submission import create_task
from worker.core.contract import InvalidPayload, RunBudget, RunTaskRequest, parse_payload
from worker.core.settings import Settings


def _run(
    engine: sa.Engine, database_url: str, budget: dict[str, Any]
) -> tuple[uuid.UUID, str, int]:
    """Run an agent with ``budget`` once; its task, the outcome and the LLM calls made."""
    name = f"thrifty-{uuid.uuid4().hex[:6]}"
    add_agent(engine, name, tools=["current_time"], budget=budget)
    task_id = submit(engine, name)
    with local_runtime(database_url) as (runtime, llm):
        outcome = execute_task(runtime, task_id)
        calls = llm.stats.snapshot()["chat_completions"]
    return task_id, outcome.status, calls


def _task(engine: sa.Engine, task_id: uuid.UUID) -> sa.Row[Any]:
    with engine.connect() as connection:
        return connection.execute(
            sa.text(
                "SELECT t.status, t.error_code, t.error, r.llm_calls FROM tasks t "
                "JOIN agent_runs r ON r.task_id = t.id WHERE t.id = :t"
            ),
            {"t": task_id},
        ).one()


@pytest.mark.parametrize(
    ("budget", "limit"),
    [
        ({"max_llm_calls": 1}, "max_llm_calls"),
        ({"max_tokens_total": 1}, "max_tokens_total"),
        ({"max_cost_usd": "0.0000001"}, "max_cost_usd"),
    ],
)
def test_a_run_stops_before_the_call_past_its_budget(
    engine: sa.Engine, database_url: str, budget: dict[str, Any], limit: str
) -> None:
    task_id, status, calls = _run(engine, database_url, budget)

    assert status == "failed"
    assert calls == 1  # the tool call's; the answer's call never started
    row = _task(engine, task_id)
    assert (row.status, row.error_code, row.llm_calls) == ("FAILED", "budget_exceeded", 1)
    assert f"configuration.budget.{limit}" in row.error and "raise" in row.error
    tokens, cost = spent(engine, task_id)
    assert tokens > 0 and cost > 0  # what the one call cost is kept
    with engine.connect() as connection:
        (event,) = connection.execute(
            sa.text("SELECT data FROM event_logs WHERE task_id = :t AND event_type = 'ERROR'"),
            {"t": task_id},
        ).scalars()
    assert event["code"] == "budget_exceeded" and event["limit"] == limit
    assert event["budget"] == budget and event["spent"]["llm_calls"] == 1
    assert event["spent"]["tokens"] == tokens
    # The row keeps the cost to its column's scale; the run counts it exactly.
    assert Decimal(event["spent"]["cost_usd"]).quantize(cost) == cost


def test_a_run_within_its_budget_spends_up_to_it(engine: sa.Engine, database_url: str) -> None:
    task_id, status, calls = _run(engine, database_url, {"max_llm_calls": 2})

    assert (status, calls) == ("succeeded", 2)
    assert _task(engine, task_id).llm_calls == 2


def test_a_budget_that_makes_no_sense_is_refused_saying_which_limit() -> None:
    with pytest.raises(ValueError, match="max_llm_calls"):
        AgentConfiguration.model_validate({"budget": {"max_llm_calls": 0}})
    with pytest.raises(ValueError, match="max_dollars"):
        AgentConfiguration.model_validate({"budget": {"max_dollars": 5}})


def test_a_resumed_run_counts_what_its_earlier_attempts_spent(
    engine: sa.Engine, database_url: str
) -> None:
    """The budget is the run's, not one attempt's: a run handed back after one call (the
    provider asked it to wait) resumes with that call's tokens counted."""
    name = f"thrifty-{uuid.uuid4().hex[:6]}"
    model = add_agent(engine, name, tools=["current_time"], budget={"max_llm_calls": 5})
    task_id = submit(engine, name)
    with local_runtime(database_url) as (runtime, llm):
        wait = {"status": 429, "retry_after": 30}
        admin(llm, "POST", "/_faults", {"model": model, "faults": [{}] + [wait] * 4})
        assert execute_task(runtime, task_id).status == "deferred"
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "UPDATE ai_agents SET configuration = jsonb_set(configuration, '{budget}', "
                "'{\"max_tokens_total\": 1}') WHERE name = :n"
            ),
            {"n": name},
        )
        connection.execute(
            sa.text("UPDATE tasks SET not_before = NULL WHERE id = :t"), {"t": task_id}
        )

    with local_runtime(database_url) as (runtime, llm):
        outcome = execute_task(runtime, task_id)
        calls = llm.stats.snapshot()["chat_completions"]

    assert (outcome.status, calls) == ("failed", 0)
    row = _task(engine, task_id)
    assert (row.error_code, row.llm_calls) == ("budget_exceeded", 1)


@pytest.mark.parametrize(
    ("agent_budget", "submitted"),
    [
        (None, {"max_llm_calls": 1}),
        ({"max_llm_calls": 5}, {"max_llm_calls": 1}),  # a caller may narrow the agent's
        ({"max_llm_calls": 1}, {"max_llm_calls": 5}),  # ...but never widen it
    ],
)
def test_a_submission_budget_and_the_agents_the_stricter_holds(
    engine: sa.Engine,
    database_url: str,
    agent_budget: dict[str, Any] | None,
    submitted: dict[str, Any],
) -> None:
    name = f"thrifty-{uuid.uuid4().hex[:6]}"
    add_agent(
        engine, name, tools=["current_time"], **({"budget": agent_budget} if agent_budget else {})
    )
    with engine.begin() as connection:
        task_id = create_task(
            connection,
            Settings(),
            RunTaskRequest(tenant="acme", agent=name, input="hi", budget=RunBudget(**submitted)),
            idempotency_key=None,
        ).task_id
    with local_runtime(database_url) as (runtime, llm):
        outcome = execute_task(runtime, task_id)
        calls = llm.stats.snapshot()["chat_completions"]

    assert (outcome.status, calls) == ("failed", 1)
    assert _task(engine, task_id).error_code == "budget_exceeded"


def test_a_submitted_budget_that_makes_no_sense_is_refused_saying_where() -> None:
    with pytest.raises(InvalidPayload, match=r"budget\.max_llm_calls"):
        parse_payload(
            RunTaskRequest,
            {"tenant": "acme", "agent": "a", "input": "hi", "budget": {"max_llm_calls": 0}},
        )
