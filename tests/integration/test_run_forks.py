"""Fork and replay (issue 16, part 2; ``worker.agents.forks``, ``worker.workflows.forks``).

Runs are driven in this process (``execute_task`` with a real runtime, PostgreSQL and the local
LLM server over HTTP). ``[[tool-rounds: N]]`` in the input makes the local model call its tools
in N replies before it answers: a run of N + 1 model calls, so N + 1 steps. Its tool call ids
are deterministic: a fork's call at the same place gets the same id as its parent's, so these
tests also show the idempotency keys (run + call id) keeping them apart.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from fastapi.testclient import TestClient

from tests.support.agents import add_agent, ensure_tenant
from tests.support.api_calls import bearer, problem, serve, tenant_key
from tests.support.publisher import RecordingPublisher
from tests.support.runs import local_runtime, submit
from tests.support.workflows import add_workflow
from worker.agents.forks import CannotFork
from worker.agents.run_steps import RunNotFound
from worker.agents.runner import execute_task
from worker.agents.tools import ToolContext, ToolRegistry
from worker.cli import cli
from worker.client import AgentWorkerClient
from worker.core.settings import Settings
from worker.workflows.catalog import start_execution
from worker.workflows.engine import advance
from worker.workflows.forks import ExecutionFork


class SimulatedCrash(BaseException):
    """The worker dies inside the tool."""


class Notices:
    """The idempotency key of every notify that acted; ``crash_on``: the call (from 1) that
    kills the worker instead."""

    def __init__(self) -> None:
        self.keys: list[str | None] = []
        self.calls = 0
        self.crash_on: int | None = None


@pytest.fixture
def notices() -> Notices:
    return Notices()


@pytest.fixture
def tools(notices: Notices) -> ToolRegistry:
    registry = ToolRegistry()

    @registry.tool(side_effects=True)
    def notify(context: ToolContext, message: str) -> str:
        """Tell someone outside (an external effect, not idempotent)."""
        notices.calls += 1
        if notices.calls == notices.crash_on:
            raise SimulatedCrash()
        notices.keys.append(context.idempotency_key)
        return "notified"

    return registry


@pytest.fixture
def client(engine: sa.Engine, database_url: str) -> Iterator[AgentWorkerClient]:
    yield AgentWorkerClient(
        engine, RecordingPublisher(), Settings(database_url=database_url), tenant="acme"
    )


def _run_of(engine: sa.Engine, task_id: uuid.UUID) -> dict[str, Any]:
    with engine.connect() as connection:
        row = connection.execute(
            sa.text(
                "SELECT id, status, llm_calls, message_count, parent_run_id, forked_at_step, "
                "output FROM agent_runs WHERE task_id = :t"
            ),
            {"t": task_id},
        ).one()
        messages = connection.execute(
            sa.text("SELECT message FROM agent_run_messages WHERE run_id = :r ORDER BY seq"),
            {"r": row.id},
        ).scalars()
        return {**row._mapping, "messages": list(messages)}


def _actions(engine: sa.Engine, run_id: uuid.UUID) -> list[sa.Row[Any]]:
    with engine.connect() as connection:
        return connection.execute(
            sa.text(
                "SELECT tool_call_id, idempotency_key, status FROM action_logs "
                "WHERE agent_run_id = :r ORDER BY created_at"
            ),
            {"r": run_id},
        ).all()


def _five_step_run(
    engine: sa.Engine, database_url: str, tools: ToolRegistry
) -> tuple[uuid.UUID, dict[str, Any]]:
    add_agent(engine, "notifier", tools=["notify"])
    task_id = submit(engine, "notifier", "[[tool-rounds: 4]] tell the venue")
    with local_runtime(database_url, tools) as (runtime, llm):
        assert execute_task(runtime, task_id).status == "succeeded"
        assert llm.stats.snapshot()["chat_completions"] == 5
    return task_id, _run_of(engine, task_id)


def test_a_fork_at_step_3_of_5_makes_only_the_calls_after_it_and_reruns_no_earlier_tool(
    engine: sa.Engine,
    database_url: str,
    tools: ToolRegistry,
    notices: Notices,
    client: AgentWorkerClient,
) -> None:
    parent_task, parent = _five_step_run(engine, database_url, tools)
    steps = client.run_steps(parent["id"]).steps
    assert [s.number for s in steps] == [0, 1, 2, 3, 4, 5]
    assert [s.tool_calls for s in steps[1:]] == [("notify",)] * 4 + [()]
    parent_actions = _actions(engine, parent["id"])
    assert len(parent_actions) == 4 and len(notices.keys) == 4

    forked = client.fork_run(parent["id"], at_step=3)
    with local_runtime(database_url, tools) as (runtime, llm):
        assert execute_task(runtime, forked.task_id).status == "succeeded"
        calls = llm.stats.snapshot()["chat_completions"]

    assert calls == 2  # steps 4 and 5; none of steps 1-3
    fork = _run_of(engine, forked.task_id)
    assert (fork["llm_calls"], fork["parent_run_id"], fork["forked_at_step"]) == (
        2,
        parent["id"],
        3,
    )
    assert fork["messages"][: steps[3].last_seq] == parent["messages"][: steps[3].last_seq]
    assert fork["output"] == parent["output"]
    # The parent is untouched: its row, its conversation, its action rows.
    assert _run_of(engine, parent_task) == parent
    assert _actions(engine, parent["id"]) == parent_actions
    # One new notify (step 4's), as a new call: same model call id as the parent's step 4,
    # another idempotency key; steps 1-3's calls have one row each, the parent's.
    (new,) = _actions(engine, fork["id"])
    assert len(notices.keys) == 5 and notices.keys[-1] == new.idempotency_key
    assert new.tool_call_id == parent_actions[3].tool_call_id
    assert new.idempotency_key != parent_actions[3].idempotency_key
    assert {a.tool_call_id for a in parent_actions[:3]}.isdisjoint({new.tool_call_id})


def test_an_edited_message_is_what_the_model_sees_next(
    engine: sa.Engine, database_url: str, tools: ToolRegistry, client: AgentWorkerClient
) -> None:
    add_agent(engine, "notifier", tools=["notify"])
    task_id = submit(engine, "notifier", "tell the venue")
    with local_runtime(database_url, tools) as (runtime, _):
        assert execute_task(runtime, task_id).status == "succeeded"
    parent = _run_of(engine, task_id)
    assert parent["output"] == "Answer to: tell the venue | Based on: notified"

    # Step 1 ends with the tool's result: the fork's model reads the edited one instead.
    forked = client.fork_run(parent["id"], at_step=1, edit_message={"content": "venue is closed"})
    # Step 0 ends with the input: edit message 2 (the user's), by its number.
    asked = client.fork_run(
        parent["id"], at_step=0, edit_message=[{"seq": 2, "content": "[[no-tools]] book it"}]
    )
    with local_runtime(database_url, tools) as (runtime, llm):
        assert execute_task(runtime, forked.task_id).status == "succeeded"
        assert execute_task(runtime, asked.task_id).status == "succeeded"
        assert llm.stats.snapshot()["chat_completions"] == 2

    assert _run_of(engine, forked.task_id)["output"] == (
        "Answer to: tell the venue | Based on: venue is closed"
    )
    assert _run_of(engine, asked.task_id)["output"] == "Answer to: book it"
    assert _run_of(engine, task_id) == parent


def _died_in_the_second_notify(
    engine: sa.Engine,
    database_url: str,
    tools: ToolRegistry,
    notices: Notices,
    *,
    result_recorded: bool = False,
) -> tuple[uuid.UUID, int]:
    """A run of 3 steps whose worker dies in step 2's notify, on the task's only attempt, so
    it fails; ``result_recorded``: the worker died after the call's result was recorded (its
    action_logs row done), before the step was written. The task and the LLM calls made."""
    add_agent(engine, "notifier", tools=["notify"])
    task_id = submit(engine, "notifier", "[[tool-rounds: 2]] tell the venue")
    with engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE tasks SET max_attempts = 1 WHERE id = :t"), {"t": task_id}
        )
    notices.crash_on = 2  # step 1's notify acts; step 2's kills the worker
    with local_runtime(database_url, tools) as (runtime, llm):
        with pytest.raises(SimulatedCrash):
            execute_task(runtime, task_id)  # ...which used the task's only attempt
        with engine.begin() as connection:
            if result_recorded:
                connection.execute(
                    sa.text(
                        "UPDATE action_logs SET status = 'success', "
                        "response_data = '\"notified\"' WHERE task_id = :t AND status = 'pending'"
                    ),
                    {"t": task_id},
                )
            connection.execute(
                sa.text("UPDATE tasks SET lease_expires_at = now() - interval '1 s' WHERE id = :t"),
                {"t": task_id},
            )
        assert execute_task(runtime, task_id).status == "failed"  # gave up: no attempts left
        return task_id, llm.stats.snapshot()["chat_completions"]


def test_replay_of_a_run_that_failed_on_a_tool_resumes_at_that_tool(
    engine: sa.Engine,
    database_url: str,
    tools: ToolRegistry,
    notices: Notices,
    client: AgentWorkerClient,
) -> None:
    task_id, calls = _died_in_the_second_notify(engine, database_url, tools, notices)
    assert calls == 2
    parent = _run_of(engine, task_id)
    assert (parent["status"], parent["llm_calls"]) == ("FAILED", 2)
    parent_actions = _actions(engine, parent["id"])
    assert [a.status for a in parent_actions] == ["success", "pending"]

    replayed = client.replay_run(parent["id"])
    assert replayed.at_step == 2  # the step whose tool call never got its result
    with local_runtime(database_url, tools) as (runtime, llm):
        assert execute_task(runtime, replayed.task_id).status == "succeeded"
        calls = llm.stats.snapshot()["chat_completions"]

    assert calls == 1  # only the answer after the tool: the two calls before it are not repeated
    fork = _run_of(engine, replayed.task_id)
    (rerun,) = _actions(engine, fork["id"])  # step 2's notify, run again as a new call
    assert rerun.tool_call_id == parent_actions[1].tool_call_id
    assert rerun.idempotency_key != parent_actions[1].idempotency_key
    assert notices.keys == [parent_actions[0].idempotency_key, rerun.idempotency_key]
    assert _actions(engine, parent["id"]) == parent_actions
    assert fork["output"] == "Answer to: tell the venue | Based on: notified ; notified"


def test_replay_never_runs_again_a_side_effect_that_succeeded_before_its_step_was_written(
    engine: sa.Engine,
    database_url: str,
    tools: ToolRegistry,
    notices: Notices,
    client: AgentWorkerClient,
) -> None:
    """The parent's worker died after step 2's notify acted and its result was recorded, and
    before the step was written: the replay keeps that result instead of notifying twice."""
    task_id, _ = _died_in_the_second_notify(
        engine, database_url, tools, notices, result_recorded=True
    )
    parent = _run_of(engine, task_id)
    acted = list(notices.keys)

    replayed = client.replay_run(parent["id"])
    with local_runtime(database_url, tools) as (runtime, llm):
        assert execute_task(runtime, replayed.task_id).status == "succeeded"
        assert llm.stats.snapshot()["chat_completions"] == 1

    assert notices.keys == acted  # nothing notified again
    fork = _run_of(engine, replayed.task_id)
    (kept,) = _actions(engine, fork["id"])
    assert kept.status == "success" and kept.idempotency_key.startswith(f"tool:{fork['id']}:")
    assert fork["output"] == "Answer to: tell the venue | Based on: notified ; notified"


def test_a_workflow_fork_at_step_k_copies_the_earlier_outputs_and_runs_the_rest(
    engine: sa.Engine, database_url: str, client: AgentWorkerClient
) -> None:
    add_agent(engine, "writer")
    add_workflow(
        engine,
        "chain",
        [
            {"key": "draft", "kind": "agent", "agent": "writer", "input": "draft it"},
            {
                "key": "edit",
                "kind": "agent",
                "agent": "writer",
                "input": "{{ steps.draft.output }}",
            },
            {
                "key": "polish",
                "kind": "agent",
                "agent": "writer",
                "input": "{{ steps.edit.output }}",
            },
        ],
    )
    with engine.begin() as connection:
        parent = start_execution(
            connection, tenant="acme", workflow="chain", input={}, idempotency_key=None
        ).execution_id
    with local_runtime(database_url) as (runtime, llm):
        _run_workflow(engine, runtime, parent)
        assert llm.stats.snapshot()["chat_completions"] == 3
    before = _step_runs(engine, parent)

    forked = client.fork_execution(parent, at="2")
    assert (forked.at_step, forked.copied) == ("edit", ("draft",))
    with local_runtime(database_url) as (runtime, llm):
        _run_workflow(engine, runtime, forked.execution_id)
        calls = llm.stats.snapshot()["chat_completions"]

    assert calls == 2  # edit and polish; draft is not run again
    runs = _step_runs(engine, forked.execution_id)
    assert runs["draft"] == (*before["draft"][:2], None)  # copied, with no task of its own
    assert runs["edit"][0] == runs["polish"][0] == "completed"
    with engine.connect() as connection:
        edit_input = connection.execute(
            sa.text(
                "SELECT input_prompt FROM tasks WHERE workflow_execution_id = :e "
                "AND workflow_step = 'edit'"
            ),
            {"e": forked.execution_id},
        ).scalar_one()
        link = connection.execute(
            sa.text(
                "SELECT parent_execution_id, forked_at_step, status FROM ai_workflow_executions "
                "WHERE id = :e"
            ),
            {"e": forked.execution_id},
        ).one()
    assert edit_input == before["draft"][1]  # the copied output is what step 2 read
    assert tuple(link) == (parent, "edit", "completed")
    assert _step_runs(engine, parent) == before


def _run_workflow(engine: sa.Engine, runtime: Any, execution_id: uuid.UUID) -> None:
    publisher = RecordingPublisher()
    for _ in range(10):
        if advance(engine, publisher, execution_id) == "completed":
            return
        with engine.connect() as connection:
            pending = connection.execute(
                sa.text(
                    "SELECT id FROM tasks WHERE workflow_execution_id = :e AND status = 'PENDING'"
                ),
                {"e": execution_id},
            ).scalars()
            for task_id in list(pending):
                execute_task(runtime, task_id)
    raise AssertionError("the workflow did not complete")


def _step_runs(engine: sa.Engine, execution_id: uuid.UUID) -> dict[str, tuple[Any, ...]]:
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text(
                "SELECT step_key, status, output, task_id FROM ai_workflow_step_runs "
                "WHERE execution_id = :e"
            ),
            {"e": execution_id},
        ).all()
    return {row.step_key: (row.status, row.output, row.task_id) for row in rows}


def test_each_bad_input_gets_an_error_that_says_what_to_do(
    engine: sa.Engine, database_url: str, tools: ToolRegistry, client: AgentWorkerClient
) -> None:
    add_agent(engine, "notifier", tools=["notify"])
    task_id = submit(engine, "notifier", "tell the venue")
    with local_runtime(database_url, tools) as (runtime, _):
        execute_task(runtime, task_id)
    run_id = _run_of(engine, task_id)["id"]

    with pytest.raises(RunNotFound, match=r"no agent run .* runs list --task"):
        client.fork_run(uuid.uuid4(), at_step=1)
    with pytest.raises(RunNotFound, match="not an agent run id"):
        client.fork_run("nope", at_step=1)
    with pytest.raises(CannotFork, match=r"steps 0 to 2; step 9 is out of range.*runs show"):
        client.fork_run(run_id, at_step=9)
    with pytest.raises(CannotFork, match="--edit-message takes"):
        client.fork_run(run_id, at_step=1, edit_message={"text": "x"})
    with pytest.raises(CannotFork, match="message 7 is not in the forked conversation"):
        client.fork_run(run_id, at_step=1, edit_message={"seq": 7, "content": "x"})
    with pytest.raises(CannotFork, match=r"not FAILED.*runs fork"):
        client.replay_run(run_id)
    ensure_tenant(engine, "globex")
    with pytest.raises(RunNotFound, match="no agent run"):
        client.fork_run(run_id, at_step=1, tenant="globex")  # another tenant's run
    with engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE tasks SET status = 'RUNNING' WHERE id = :t"), {"t": task_id}
        )
    with pytest.raises(CannotFork, match=r"still going.*agentworker cancel") as going:
        client.fork_run(run_id, at_step=1)
    assert going.value.code == "run_in_progress"

    result = CliRunner().invoke(
        cli,
        ["runs", "fork", str(run_id), "--at", "1", "--edit-message", "{bad", "--tenant", "acme"],
    )
    assert (
        result.exit_code == 2 and "--edit-message" in result.output and "not JSON" in result.output
    )

    with pytest.raises(ExecutionFork, match="no workflow execution"):
        client.fork_execution(uuid.uuid4(), at="1")
    with pytest.raises(ExecutionFork, match="not a workflow execution id"):
        client.fork_execution("nope", at="1")


def test_a_workflow_fork_refuses_a_running_execution_and_a_step_it_does_not_have(
    engine: sa.Engine, client: AgentWorkerClient
) -> None:
    add_agent(engine, "writer")
    add_workflow(engine, "pair", [{"key": "a", "kind": "agent", "agent": "writer", "input": "go"}])
    with engine.begin() as connection:
        execution = start_execution(
            connection, tenant="acme", workflow="pair", input={}, idempotency_key=None
        ).execution_id
    with pytest.raises(ExecutionFork, match=r"still pending.*cancel"):
        client.fork_execution(execution, at="1")
    with engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE ai_workflow_executions SET status = 'failed' WHERE id = :e"),
            {"e": execution},
        )
    with pytest.raises(ExecutionFork, match=r"steps 1 to 1 \(1 a\); step 4 is out of range"):
        client.fork_execution(execution, at="4")
    with pytest.raises(ExecutionFork, match=r"no step 'zz'.*1 a"):
        client.fork_execution(execution, at="zz")
    with pytest.raises(ExecutionFork, match="never reached step 1"):
        client.fork_execution(execution, at="a")


def test_the_api_forks_a_run_for_the_keys_tenant_only(
    engine: sa.Engine,
    runtime_engine: sa.Engine,
    runtime_database_url: str,
    database_url: str,
    broker_url: str,
    tools: ToolRegistry,
) -> None:
    add_agent(engine, "notifier", tools=["notify"])
    task_id = submit(engine, "notifier", "tell the venue")
    with local_runtime(database_url, tools) as (runtime, _):
        execute_task(runtime, task_id)
    run_id = _run_of(engine, task_id)["id"]
    acme = tenant_key(engine, "acme", scopes=("submit", "read"))
    globex = tenant_key(engine, "globex", scopes=("submit", "read"))
    publisher = RecordingPublisher()
    api: TestClient
    with serve(runtime_database_url, runtime_engine, broker_url, publisher) as api:
        steps = api.get(f"/v1/runs/{run_id}", headers=bearer(acme))
        assert steps.status_code == 200 and len(steps.json()["steps"]) == 3
        made = api.post(
            f"/v1/runs/{run_id}/fork",
            json={"at_step": 1, "edit_message": {"content": "closed"}},
            headers=bearer(acme),
        )
        assert made.status_code == 201, made.text
        assert made.json()["parent_run_id"] == str(run_id)
        assert publisher.names() == ["agents.run_task"]
        problem(
            api.post(f"/v1/runs/{run_id}/fork", json={"at_step": 1}, headers=bearer(globex)), 404
        )
        problem(api.post(f"/v1/runs/{run_id}/fork", json={"at_step": 5}, headers=bearer(acme)), 422)
        problem(api.post(f"/v1/runs/{run_id}/replay", headers=bearer(acme)), 409, "run_not_failed")
    fork = _run_of(engine, uuid.UUID(made.json()["task_id"]))
    assert fork["messages"][-1]["content"] == "closed" and fork["forked_at_step"] == 1


def _agentworker(
    database_url: str, broker_url: str, *args: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from worker.cli import main; main()", *args],
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "DATABASE_URL": database_url, "CELERY_BROKER_URL": broker_url},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_cli_shows_a_runs_numbered_steps_and_forks_it(
    engine: sa.Engine, database_url: str, broker_url: str, tools: ToolRegistry
) -> None:
    add_agent(engine, "notifier", tools=["notify"])
    task_id = submit(engine, "notifier", "tell the venue")
    with local_runtime(database_url, tools) as (runtime, _):
        execute_task(runtime, task_id)
    run_id = str(_run_of(engine, task_id)["id"])

    listed = _agentworker(
        database_url, broker_url, "runs", "list", "--task", str(task_id), "--tenant", "acme"
    )
    shown = _agentworker(database_url, broker_url, "runs", "show", run_id, "--tenant", "acme")
    wrong = _agentworker(
        database_url, broker_url, "runs", "fork", run_id, "--at", "9", "--tenant", "acme"
    )
    forked = _agentworker(
        database_url, broker_url, "runs", "fork", run_id, "--at", "1", "--tenant", "acme"
    )

    assert listed.returncode == 0 and run_id in listed.stdout, listed.stderr
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert any(line.startswith("0 ") and "the prompt and the input" in line for line in lines)
    assert any(line.startswith("1 ") and "tool calls: notify" in line for line in lines)
    assert any(line.startswith("2 ") and "Answer to: tell the venue" in line for line in lines)
    assert wrong.returncode == 1 and "steps 0 to 2; step 9 is out of range" in wrong.stderr
    assert forked.returncode == 0 and f"from run {run_id} at step 1" in forked.stdout, forked.stderr
    with engine.connect() as connection:
        forks = connection.execute(
            sa.text("SELECT count(*) FROM agent_runs WHERE parent_run_id = :r"), {"r": run_id}
        ).scalar_one()
    assert forks == 1
