"""Killed workers, lost messages and secrets: the database stays the source of truth."""

from __future__ import annotations

from models import TaskStatus
from tests.support.agents import add_agent
from tests.support.stack import Stack, wait_until
from worker.agents.submission import create_task
from worker.core.contract import RunTaskRequest


def test_a_worker_killed_mid_run_is_replaced_and_persisted_llm_calls_are_not_repeated(
    stack: Stack,
) -> None:
    model = add_agent(stack.engine, "helper", tools=["current_time"])
    doomed = stack.start_worker(
        AGENTWORKER_FAULT_POINT="after_llm_call_persisted", AGENTWORKER_LEASE_SECONDS="2"
    )

    task_id = stack.client.submit(tenant="acme", agent="helper", input="What time is it?")
    wait_until(
        lambda: doomed.process.poll(),
        timeout=20,
        failure=lambda: f"the fault point did not fire:\n{doomed.log()[-3000:]}",
    )
    assert doomed.process.returncode == -9  # SIGKILL, mid-run
    assert stack.client.get_task(task_id).status == TaskStatus.RUNNING
    assert stack.llm_requests(model) == 1

    stack.start_worker(
        beat=True, AGENTWORKER_LEASE_SECONDS="2", AGENTWORKER_REAPER_INTERVAL_SECONDS="1"
    )
    task = stack.wait_for(task_id, timeout=40)

    assert task.status == TaskStatus.SUCCEEDED, task.error
    assert task.attempts == 2
    assert stack.llm_requests(model) == 2  # the first call was persisted, so not paid again
    (run,) = stack.rows(
        "SELECT llm_calls, (SELECT jsonb_agg(m.message ORDER BY m.seq) "
        "FROM agent_run_messages m WHERE m.run_id = agent_runs.id) AS messages "
        "FROM agent_runs WHERE task_id = :t",
        t=task_id,
    )
    assert run.llm_calls == 2
    assert [m["role"] for m in run.messages] == ["system", "user", "assistant", "tool", "assistant"]
    contents = [e.content or "" for e in stack.client.events(task_id)]
    assert any("stopped renewing its lease" in c for c in contents)
    assert any("resumed from 3 persisted messages" in c for c in contents)


def test_a_task_whose_message_was_lost_is_republished_by_the_reaper(stack: Stack) -> None:
    add_agent(stack.engine, "helper")
    request = RunTaskRequest(tenant="acme", agent="helper", input="lost in transit")
    with stack.engine.begin() as connection:  # committed, never published: a crash in between
        submitted = create_task(
            connection, stack.client.settings, request, idempotency_key="lost-1"
        )

    stack.start_worker(
        beat=True,
        AGENTWORKER_PENDING_REPUBLISH_SECONDS="1",
        AGENTWORKER_REAPER_INTERVAL_SECONDS="1",
    )

    assert stack.wait_for(submitted.task_id, timeout=30).status == TaskStatus.SUCCEEDED


def test_a_secret_in_tool_arguments_is_not_stored_in_clear(stack: Stack) -> None:
    add_agent(stack.engine, "searcher", tools=["search_knowledge"])
    stack.start_worker()
    secret = "sk-test-" + "Zx9Yw8Vu" * 3

    task = stack.wait_for(
        stack.client.submit(tenant="acme", agent="searcher", input=f"find docs about key {secret}")
    )

    assert task.status == TaskStatus.SUCCEEDED, task.error
    (action,) = stack.rows(
        "SELECT request_payload, status, action_type, execution_time_ms "
        "FROM action_logs WHERE task_id = :t",
        t=task.id,
    )
    assert action.status == "success"
    assert action.action_type == "knowledge_search"
    assert action.execution_time_ms >= 0
    assert secret not in str(action.request_payload)
    assert "[REDACTED]" in action.request_payload["query"]
    for event in stack.client.events(task.id):
        assert secret not in f"{event.content} {event.data}"
