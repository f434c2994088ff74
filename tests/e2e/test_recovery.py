"""Recovery after a single fault takes under a minute, with the settings as shipped.

Real worker processes, SIGKILLed at the worst moment; the clock runs from the kill to the moment
another worker has the work again. The shipped defaults these times follow from are asserted by
tests/unit/test_recovery_defaults.py.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from models import ExecutionStatus, TaskStatus
from tests.e2e.test_amqp_broker import amqp_url  # noqa: F401  (a fixture)
from tests.support.agents import add_agent
from tests.support.stack import Stack, WorkerProcess, stack_context, wait_until
from tests.support.workflows import add_workflow
from worker.core.contract import RUN_TASK
from worker.core.settings import Settings
from worker.durable import faults

RECOVERY_SECONDS = 60
#: The stack shortens the lease for its other tests; here it is the shipped one.
SHIPPED = {"AGENTWORKER_LEASE_SECONDS": str(Settings().lease_seconds)}


@pytest.fixture
def amqp_stack(database_url: str, amqp_url: str, tmp_path: Path) -> Iterator[Stack]:  # noqa: F811
    yield from stack_context(database_url, amqp_url, tmp_path)


def _killed(worker: WorkerProcess, timeout: float = 30) -> float:
    """Wait for ``worker`` to be SIGKILLed by its fault point; when (``time.monotonic()``)."""
    wait_until(
        lambda: worker.process.poll(),
        timeout=timeout,
        failure=lambda: f"the fault point did not fire:\n{worker.log()[-3000:]}",
    )
    assert worker.process.returncode == -9
    return time.monotonic()


def _deliveries(stack: Stack, message_id: str = r"[^\]]+") -> int:
    """How many times workers received ``agents.run_task`` messages (of ``message_id``)."""
    pattern = re.compile(rf"Task {re.escape(RUN_TASK)}\[{message_id}\] received")
    return sum(len(pattern.findall(worker.log())) for worker in stack.workers)


def test_a_killed_workers_task_is_claimed_again_within_a_minute(stack: Stack) -> None:
    model = add_agent(stack.engine, "helper")
    stack.program_faults(model, {"delay_ms": 20_000})  # the first call hangs; the kill comes
    holder = stack.start_worker(**SHIPPED)
    task_id = stack.client.submit(tenant="acme", agent="helper", input="survive this")
    stack.wait_for(task_id, statuses={TaskStatus.RUNNING})
    stack.start_worker(beat=True, **SHIPPED)

    holder.kill()
    killed_at = time.monotonic()
    wait_until(
        lambda: stack.client.get_task(task_id).attempts >= 2 or None,
        timeout=RECOVERY_SECONDS + 30,
        failure=lambda: "the task was not claimed again",
    )
    reclaimed_after = time.monotonic() - killed_at

    task = stack.wait_for(task_id)
    assert task.status == TaskStatus.SUCCEEDED, task.error
    assert reclaimed_after < RECOVERY_SECONDS, (
        f"claimed again {reclaimed_after:.0f}s after the kill"
    )


def test_a_foreign_job_whose_worker_died_before_writing_its_row_comes_back(stack: Stack) -> None:
    """Nothing in the database knows of it: only the broker can hand it out again."""
    add_agent(stack.engine, "helper")
    doomed = stack.start_worker(AGENTWORKER_FAULT_POINT=faults.AFTER_SUBMISSION_RECEIVED)
    message = stack.app.send_task(
        RUN_TASK, queue="agents", kwargs={"tenant": "acme", "agent": "helper", "input": "raw"}
    )
    killed_at = _killed(doomed)
    assert stack.rows("SELECT id FROM tasks") == []

    stack.start_worker(**SHIPPED)
    (row,) = wait_until(
        lambda: (
            stack.rows("SELECT id FROM tasks WHERE broker_message_id = :m", m=message.id) or None
        ),
        timeout=RECOVERY_SECONDS + 30,
        failure=lambda: "the message never came back",
    )
    came_back_after = time.monotonic() - killed_at

    assert stack.wait_for(row.id).status == TaskStatus.SUCCEEDED
    assert came_back_after < RECOVERY_SECONDS, f"back {came_back_after:.0f}s after the kill"


def test_over_rabbitmq_a_foreign_job_comes_back_when_its_worker_dies(amqp_stack: Stack) -> None:
    """RabbitMQ returns a delivery the moment its consumer's connection drops (late acks)."""
    stack = amqp_stack
    add_agent(stack.engine, "helper")
    doomed = stack.start_worker(AGENTWORKER_FAULT_POINT=faults.AFTER_SUBMISSION_RECEIVED)
    message = stack.app.send_task(
        RUN_TASK, queue="agents", kwargs={"tenant": "acme", "agent": "helper", "input": "raw"}
    )
    killed_at = _killed(doomed)

    stack.start_worker(**SHIPPED)
    (row,) = wait_until(
        lambda: (
            stack.rows("SELECT id FROM tasks WHERE broker_message_id = :m", m=message.id) or None
        ),
        timeout=RECOVERY_SECONDS,
        failure=lambda: "the message never came back",
    )
    assert time.monotonic() - killed_at < RECOVERY_SECONDS
    assert stack.wait_for(row.id).status == TaskStatus.SUCCEEDED


def test_a_message_held_past_the_visibility_timeout_is_not_handed_out_again(
    stack: Stack,
) -> None:
    """Redis re-delivers what stays unacked past the visibility timeout; a live worker keeps
    renewing the messages it holds, so only a dead worker's come back."""
    model = add_agent(stack.engine, "slow")
    stack.program_faults(model, {"delay_ms": 8_000})
    short = {"AGENTWORKER_BROKER_VISIBILITY_TIMEOUT_SECONDS": "3"}
    stack.start_worker(**short)
    stack.start_worker(**short)

    task = stack.wait_for(
        stack.client.submit(tenant="acme", agent="slow", input="take your time"), timeout=60
    )

    assert task.status == TaskStatus.SUCCEEDED, task.error
    assert _deliveries(stack, re.escape(str(task.id))) == 1


def test_a_backlog_is_worked_through_without_republishing(stack: Stack) -> None:
    """Every task waits in the queue longer than the reaper's patience: none is re-published."""
    model = add_agent(stack.engine, "helper")
    stack.program_faults(model, *({"delay_ms": 1_500} for _ in range(6)))
    stack.start_worker(
        concurrency=1,
        beat=True,
        AGENTWORKER_PENDING_REPUBLISH_SECONDS="1",
        AGENTWORKER_REAPER_INTERVAL_SECONDS="1",
    )

    task_ids = [
        stack.client.submit(tenant="acme", agent="helper", input=f"job {i}") for i in range(6)
    ]
    tasks = [stack.wait_for(task_id, timeout=60) for task_id in task_ids]

    assert [task.status for task in tasks] == [TaskStatus.SUCCEEDED] * 6
    assert _deliveries(stack) == 6, "a task's message was published again"
    assert stack.rows("SELECT id FROM event_logs WHERE content LIKE '%re-published%'") == []
    log = stack.workers[0].log()
    assert "agents.queue_probe" in log, "the reaper never looked"


def test_a_workflow_whose_next_step_was_never_published_moves_on_within_a_minute(
    stack: Stack,
) -> None:
    """The worker dies after the advance that follows a finished step committed the next
    step's task, before it published its message."""
    add_agent(stack.engine, "helper")
    add_workflow(
        stack.engine,
        "two_steps",
        [
            {"key": "first", "kind": "agent", "agent": "helper", "input": "first"},
            {"key": "second", "kind": "agent", "agent": "helper", "input": "second"},
        ],
    )
    doomed = stack.start_worker(
        AGENTWORKER_FAULT_POINT=f"{faults.AFTER_ADVANCE_COMMITTED}:2", **SHIPPED
    )
    execution_id = stack.client.start_workflow(tenant="acme", workflow="two_steps")
    killed_at = _killed(doomed)
    (second,) = stack.rows("SELECT id, status FROM tasks WHERE workflow_step = 'second'")
    assert second.status == TaskStatus.PENDING

    stack.start_worker(beat=True, **SHIPPED)
    wait_until(
        lambda: stack.client.get_task(second.id).attempts >= 1 or None,
        timeout=RECOVERY_SECONDS + 30,
        failure=lambda: "the second step never started",
    )
    started_after = time.monotonic() - killed_at

    done = wait_until(
        lambda: (
            v
            if (v := stack.client.get_execution(execution_id)).status
            in {ExecutionStatus.COMPLETED, ExecutionStatus.FAILED}
            else None
        ),
        timeout=60,
        failure=lambda: f"execution is {stack.client.get_execution(execution_id).status}",
    )
    assert done.status == ExecutionStatus.COMPLETED, done.error
    assert started_after < RECOVERY_SECONDS, f"started {started_after:.0f}s after the kill"
