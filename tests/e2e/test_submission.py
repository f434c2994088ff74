"""The submission contract, through both doors: our client and a raw ``send_task``."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
import uuid

from models import TaskStatus
from tests.support.agents import add_agent
from tests.support.stack import Stack, wait_until


def _task_by_message(stack: Stack, message_id: str) -> uuid.UUID:
    return wait_until(
        lambda: next(
            iter(stack.rows("SELECT id FROM tasks WHERE broker_message_id = :m", m=message_id)),
            (None,),
        )[0],
        timeout=20,
        failure=lambda: f"no task for message {message_id}",
    )


def test_a_payload_that_breaks_the_contract_becomes_a_failed_task_with_the_reason(
    stack: Stack,
) -> None:
    add_agent(stack.engine, "helper")
    stack.start_worker()

    message = stack.app.send_task(
        "agents.run_task", kwargs={"tenant": "acme", "agent": "helper", "inptu": "typo"}
    )
    task = stack.wait_for(_task_by_message(stack, message.id))

    assert task.status == TaskStatus.FAILED
    assert task.error_code == "invalid_payload"
    assert "field 'input' is required" in (task.error or "")
    assert "unknown field 'inptu'" in (task.error or "")
    events = stack.client.events(task.id)
    assert [e.event_type.value for e in events] == ["ERROR"]
    assert task.attempts == 0  # rejected at the door, never run or retried


def test_an_unknown_agent_fails_the_task_and_names_the_known_agents(stack: Stack) -> None:
    add_agent(stack.engine, "helper")
    stack.start_worker()

    message = stack.app.send_task(
        "agents.run_task", kwargs={"tenant": "acme", "agent": "helpr", "input": "hi"}
    )
    task = stack.wait_for(_task_by_message(stack, message.id))

    assert task.status == TaskStatus.FAILED
    assert task.error == "unknown agent 'helpr' for this tenant; known agents: helper"


def test_oversized_input_fails_the_task_and_says_the_limit(stack: Stack) -> None:
    add_agent(stack.engine, "helper")
    stack.start_worker(AGENTWORKER_MAX_INPUT_BYTES="1000")

    message = stack.app.send_task(
        "agents.run_task", kwargs={"tenant": "acme", "agent": "helper", "input": "x" * 5000}
    )
    task = stack.wait_for(_task_by_message(stack, message.id))

    assert task.status == TaskStatus.FAILED
    assert task.error_code == "input_too_large"
    assert "the limit is 1000" in (task.error or "")


def test_a_payload_naming_no_known_tenant_is_kept_redacted_in_error_logs(stack: Stack) -> None:
    stack.start_worker()
    secret = "sk-live-" + "A1b2C3d4" * 4

    message = stack.app.send_task(
        "agents.run_task",
        kwargs={
            "tenant": "ghost",
            "agent": "helper",
            "input": f"use key {secret}",
            "metadata": {"api_key": secret},
        },
    )
    (row,) = wait_until(
        lambda: stack.rows("SELECT * FROM ai_error_logs") or None,
        timeout=20,
        failure=lambda: "no ai_error_logs row",
    )

    assert row.error_type == "submission.unknown_tenant"
    assert "unknown tenant 'ghost'" in row.error_message
    assert row.error_context["broker_message_id"] == message.id
    assert secret not in str(row.error_context)
    assert row.error_context["payload"]["metadata"]["api_key"] == "[REDACTED]"
    assert stack.rows("SELECT id FROM tasks") == []


def test_a_repeated_idempotency_key_returns_the_first_task(stack: Stack) -> None:
    add_agent(stack.engine, "helper")
    stack.start_worker()

    first = stack.client.submit(tenant="acme", agent="helper", input="a", idempotency_key="k1")
    second = stack.client.submit(tenant="acme", agent="helper", input="b", idempotency_key="k1")

    assert first == second
    assert stack.wait_for(first).status == TaskStatus.SUCCEEDED
    assert len(stack.rows("SELECT id FROM agent_runs")) == 1


def test_ten_concurrent_submissions_with_one_key_make_one_task_and_one_run(stack: Stack) -> None:
    model = add_agent(stack.engine, "helper")
    stack.start_worker(concurrency=8)
    barrier = threading.Barrier(20)
    ids: list[uuid.UUID] = []

    def through_client() -> None:
        barrier.wait()
        ids.append(
            stack.client.submit(
                tenant="acme", agent="helper", input="same", idempotency_key="order-42"
            )
        )

    def through_send_task() -> None:
        barrier.wait()
        stack.app.send_task(
            "agents.run_task",
            kwargs={
                "tenant": "acme",
                "agent": "helper",
                "input": "same",
                "idempotency_key": "order-42",
            },
        )

    threads = [threading.Thread(target=f) for f in [through_client, through_send_task] * 10]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(set(ids)) == 1
    task = stack.wait_for(ids[0])
    assert task.status == TaskStatus.SUCCEEDED
    wait_until(lambda: stack.llm_requests(model) >= 1 or None, timeout=5, failure=str)
    assert len(stack.rows("SELECT id FROM tasks")) == 1
    assert len(stack.rows("SELECT id FROM agent_runs")) == 1
    assert stack.llm_requests(model) == 1


def test_a_service_with_only_celery_installed_can_submit_a_job(stack: Stack) -> None:
    add_agent(stack.engine, "helper")
    stack.start_worker()
    script = textwrap.dedent(
        f"""
        import importlib.abc, sys

        class OnlyCelery(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {{"models", "worker", "tasks", "sqlalchemy", "openai",
                                           "celeryconfig", "pydantic"}}:
                    raise ImportError(f"{{name}} is not installed in this service")

        sys.meta_path.insert(0, OnlyCelery())
        from celery import Celery

        app = Celery("foreign-service", broker={stack.broker_url!r})
        app.conf.task_serializer = "json"
        result = app.send_task("agents.run_task", kwargs={{
            "tenant": "acme", "agent": "helper", "input": "hello from elsewhere",
            "idempotency_key": "foreign-1"}}, queue="agents")
        print(result.id)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr

    task = stack.wait_for(_task_by_message(stack, done.stdout.strip()))
    assert task.status == TaskStatus.SUCCEEDED
    assert "hello from elsewhere" in task.result["output"]
