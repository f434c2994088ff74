"""A real worker process runs agents end to end against Redis, PostgreSQL and the local LLM."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any

from models import TaskStatus
from tests.support.agents import add_agent
from tests.support.prometheus import scrape, value
from tests.support.stack import Stack, wait_until
from worker.ops.metrics import serve_metrics


def test_happy_path_with_two_tool_calls_persists_rows_events_tokens_and_cost(
    stack: Stack,
) -> None:
    add_agent(stack.engine, "helper", tools=["current_time", "task_context"])
    stack.start_worker()

    task_id = stack.client.submit(tenant="acme", agent="helper", input="What time is it?")
    task = stack.wait_for(task_id)

    assert task.status == TaskStatus.SUCCEEDED, task.error
    assert "Answer to: What time is it?" in task.result["output"]
    events = [e.event_type.value for e in stack.client.events(task_id)]
    assert events == [
        "AGENT_START",
        "LLM_CALL",
        "TOOL_CALL",
        "TOOL_CALL",
        "TOOL_RESULT",
        "TOOL_RESULT",
        "LLM_CALL",
        "RESULT",
        "AGENT_COMPLETE",
    ]
    (run,) = stack.rows(
        "SELECT status, llm_calls, prompt_tokens, completion_tokens, cost, "
        "(SELECT jsonb_agg(m.message ORDER BY m.seq) "
        "FROM agent_run_messages m WHERE m.run_id = agent_runs.id) AS messages "
        "FROM agent_runs WHERE task_id = :t",
        t=task_id,
    )
    assert run.status == "COMPLETED"
    assert run.llm_calls == 2
    assert run.prompt_tokens > 0 and run.completion_tokens > 0
    assert run.cost > Decimal(0)
    assert [m["role"] for m in run.messages] == [
        "system",
        "user",
        "assistant",
        "tool",
        "tool",
        "assistant",
    ]
    actions = stack.rows(
        "SELECT tool_name, status, execution_time_ms FROM action_logs WHERE task_id = :t "
        "ORDER BY tool_name",
        t=task_id,
    )
    assert [(a.tool_name, a.status) for a in actions] == [
        ("current_time", "success"),
        ("task_context", "success"),
    ]
    assert all(a.execution_time_ms is not None for a in actions)
    (latency_metrics,) = stack.rows(
        "SELECT count(*) AS n FROM ai_performance_metrics WHERE metric_category = 'latency'"
    )
    assert latency_metrics.n == 2


def _llm_event_attempts(stack: Stack, task_id: object) -> list[int]:
    return [
        e.data["attempts"]
        for e in stack.client.events(task_id)
        if e.event_type.value == "LLM_CALL" and e.data
    ]


def test_a_429_with_retry_after_is_retried_and_every_attempt_recorded(stack: Stack) -> None:
    model = add_agent(stack.engine, "limited")
    stack.program_faults(model, {"status": 429, "retry_after": 1})
    stack.start_worker()

    started = time.monotonic()
    task = stack.wait_for(stack.client.submit(tenant="acme", agent="limited", input="hi"))

    assert task.status == TaskStatus.SUCCEEDED, task.error
    assert time.monotonic() - started >= 1.0  # Retry-After was honoured
    assert _llm_event_attempts(stack, task.id) == [2]
    assert stack.llm_requests(model) == 2
    (errors,) = stack.rows(
        "SELECT count(*) AS n FROM ai_error_logs WHERE task_id = :t AND error_type = "
        "'llm.http_429'",
        t=task.id,
    )
    assert errors.n == 1
    (metrics,) = stack.rows("SELECT count(*) AS n FROM ai_performance_metrics")
    assert metrics.n == 2


def test_two_server_errors_then_success_takes_three_attempts(stack: Stack) -> None:
    model = add_agent(stack.engine, "flaky")
    stack.program_faults(model, {"status": 500}, {"status": 500})
    stack.start_worker()

    task = stack.wait_for(stack.client.submit(tenant="acme", agent="flaky", input="hi"))

    assert task.status == TaskStatus.SUCCEEDED, task.error
    assert _llm_event_attempts(stack, task.id) == [3]
    assert stack.llm_requests(model) == 3


def test_a_401_fails_fast_with_a_readable_error_after_one_attempt(stack: Stack) -> None:
    model = add_agent(stack.engine, "unauthorised")
    stack.program_faults(model, {"status": 401})
    stack.start_worker()

    task = stack.wait_for(stack.client.submit(tenant="acme", agent="unauthorised", input="hi"))

    assert task.status == TaskStatus.FAILED
    assert task.error is not None
    assert "HTTP 401" in task.error and "check the API key" in task.error
    assert "after 1 attempt" in task.error
    assert stack.llm_requests(model) == 1
    (run,) = stack.rows("SELECT status, error FROM agent_runs WHERE task_id = :t", t=task.id)
    assert run.status == "FAILED"
    assert [e.event_type.value for e in stack.client.events(task.id)][-1] == "ERROR"


def test_a_long_retry_after_frees_the_worker_slot_until_the_wait_is_over(stack: Stack) -> None:
    patient = add_agent(stack.engine, "patient")
    add_agent(stack.engine, "quick")
    stack.program_faults(patient, {"status": 429, "retry_after": 3})
    stack.start_worker(concurrency=1, AGENTWORKER_DEFER_THRESHOLD_SECONDS="1")

    waiting = stack.client.submit(tenant="acme", agent="patient", input="wait for me")
    stack.wait_for(waiting, statuses={TaskStatus.PENDING}, timeout=15)
    deferred_at = time.monotonic()
    quick = stack.wait_for(stack.client.submit(tenant="acme", agent="quick", input="go"))

    assert quick.status == TaskStatus.SUCCEEDED
    assert time.monotonic() - deferred_at < 2.5  # ran in the only slot during the wait
    assert stack.client.get_task(waiting).status == TaskStatus.PENDING
    finished = stack.wait_for(waiting, timeout=20)
    assert finished.status == TaskStatus.SUCCEEDED, finished.error
    assert time.monotonic() - deferred_at >= 2.0
    system = [
        e.content or "" for e in stack.client.events(waiting) if e.event_type.value == "SYSTEM"
    ]
    assert any("worker slot is released" in text for text in system)
    assert stack.llm_requests(patient) == 2


def test_worker_logs_are_json_lines_that_carry_the_task_tenant_and_run(stack: Stack) -> None:
    add_agent(stack.engine, "helper", tools=["current_time"])
    worker = stack.start_worker()
    secret = "sk-test-" + "Lg7Kp2Xz" * 3

    task = stack.wait_for(
        stack.client.submit(tenant="acme", agent="helper", input=f"hello {secret}")
    )

    def json_lines() -> list[dict[str, Any]]:
        return [json.loads(line) for line in worker.log().splitlines() if line.startswith("{")]

    def finished_lines() -> list[dict[str, Any]] | None:
        # The row commits before the worker logs it: on a busy machine the line comes later.
        found = [
            line
            for line in json_lines()
            if line.get("task_id") == str(task.id) and line["message"].startswith("task succeeded")
        ]
        return found or None

    finished = wait_until(finished_lines, timeout=10, failure=lambda: worker.log()[-2000:])
    lines = json_lines()
    mine = [line for line in lines if line.get("task_id") == str(task.id)]
    assert finished[0]["tenant_id"] == str(task.tenant_id)
    (run,) = stack.rows("SELECT id FROM agent_runs WHERE task_id = :t", t=task.id)
    assert any(line.get("agent_run_id") == str(run.id) for line in mine)
    assert all({"ts", "level", "logger", "message"} <= set(line) for line in lines)
    assert secret not in worker.log()


def test_metrics_change_after_a_job_runs(stack: Stack) -> None:
    add_agent(stack.engine, "helper", tools=["current_time"])
    stack.start_worker()
    with serve_metrics(stack.engine, "127.0.0.1", 0) as server:
        before = scrape(server)
        task = stack.wait_for(stack.client.submit(tenant="acme", agent="helper", input="hi"))
        after = scrape(server)

    assert task.status == TaskStatus.SUCCEEDED
    succeeded = "agentworker_tasks"
    assert (
        value(after, succeeded, status="SUCCEEDED")
        == value(before, succeeded, status="SUCCEEDED") + 1
    )
    assert (
        value(after, "agentworker_llm_calls_total")
        == value(before, "agentworker_llm_calls_total") + 2
    )
    assert value(after, "agentworker_llm_cost_usd_total") > value(
        before, "agentworker_llm_cost_usd_total"
    )
