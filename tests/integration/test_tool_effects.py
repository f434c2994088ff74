"""Tools with side effects act once, and no tool call holds a run for ever (issue 11, defects
5 and 4).

Each run is driven in this process (``execute_task`` with a real runtime, PostgreSQL and the
local LLM server, which calls every tool it is offered once and then answers). A worker's
death inside a tool is a ``SimulatedCrash``: a BaseException, so nothing in the worker handles
it and the task is left RUNNING, as a SIGKILL leaves it; the reaper then re-queues it.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from models import AIGeneratedContent, ContentType
from tests.support.agents import add_agent
from tests.support.publisher import RecordingPublisher
from worker.agents.runner import execute_task
from worker.agents.runtime import Runtime, build_runtime
from worker.agents.submission import create_task
from worker.agents.tool_effects import OUTCOME_UNKNOWN
from worker.agents.tools import ToolContext, ToolRegistry
from worker.core.contract import RunTaskRequest
from worker.core.settings import Settings
from worker.dev.llm_server import LocalLLMServer
from worker.durable.reaper import reap
from worker.workflows.cancellation import cancel_task


class SimulatedCrash(BaseException):
    """The worker dies here."""


class Calls:
    """What each tool was called with, and which calls should crash."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str | None, bool]] = []
        self.crash_once: set[str] = set()
        self.release = threading.Event()

    def record(self, name: str, context: ToolContext) -> None:
        self.seen.append((name, context.idempotency_key, context.outcome_unknown))

    def crash_if_asked(self, name: str) -> None:
        if name in self.crash_once:
            self.crash_once.discard(name)
            raise SimulatedCrash(name)

    def count(self) -> Counter[str]:
        return Counter(name for name, _, _ in self.seen)


@pytest.fixture
def calls() -> Iterator[Calls]:
    calls = Calls()
    yield calls
    calls.release.set()  # frees any tool thread a test left hanging


def _registry(calls: Calls) -> ToolRegistry:
    registry = ToolRegistry()

    @registry.tool(side_effects=True)
    def notify(context: ToolContext, message: str) -> str:
        """Tell someone outside (an external effect, not idempotent)."""
        calls.record("notify", context)
        calls.crash_if_asked("notify")
        return "notified"

    @registry.tool(side_effects=True, idempotent=True)
    def charge(context: ToolContext, amount: int) -> str:
        """Charge a card through a service that deduplicates by idempotency key."""
        calls.record("charge", context)
        calls.crash_if_asked("charge")
        return "charged"

    @registry.tool(transactional=True)
    def save_note(context: ToolContext, text: str) -> str:
        """Save a note in our database."""
        calls.record("save_note", context)
        with context.session_factory() as session:
            session.add(
                AIGeneratedContent(
                    tenant_id=context.tenant_id,
                    content_type=ContentType.REPORT,
                    title=str(context.idempotency_key),
                    content=text,
                )
            )
            session.commit()
        calls.crash_if_asked("save_note")
        return "saved"

    @registry.tool
    def look_up(context: ToolContext, query: str) -> str:
        """Read something (no side effects)."""
        calls.record("look_up", context)
        if "cancel" in calls.crash_once:
            cancel_task(
                context.services["runtime"].engine,
                RecordingPublisher(),
                context.task_id,
                "cancelled while a tool ran",
            )
        return "found"

    @registry.tool
    def hang(context: ToolContext) -> str:
        """Wait for something that never comes."""
        calls.record("hang", context)
        calls.release.wait(60)
        return "late"

    @registry.tool(transactional=True)
    def hang_after_writing(context: ToolContext) -> str:
        """Write a note, then wait for something that never comes."""
        calls.record("hang_after_writing", context)
        with context.session_factory() as session:
            session.add(
                AIGeneratedContent(
                    tenant_id=context.tenant_id,
                    content_type=ContentType.REPORT,
                    title="late note",
                    content="written by a call that timed out",
                )
            )
            session.commit()
        calls.release.wait(60)
        return "late"

    @registry.tool(transactional=True)
    def save_note_slowly(context: ToolContext, text: str) -> str:
        """Save a note in our database, slowly."""
        calls.record("save_note_slowly", context)
        with context.session_factory() as session:
            session.add(
                AIGeneratedContent(
                    tenant_id=context.tenant_id,
                    content_type=ContentType.REPORT,
                    title="slow note",
                    content=text,
                )
            )
            session.commit()
        calls.release.wait(60)
        return "saved"

    @registry.tool
    def slow(context: ToolContext) -> str:
        """Take a while."""
        calls.record("slow", context)
        time.sleep(1.2)
        return "done"

    return registry


@pytest.fixture
def runtime(database_url: str, calls: Calls) -> Iterator[Runtime]:
    with LocalLLMServer() as llm:
        settings = Settings(database_url=database_url, openai_base_url=llm.base_url)
        runtime = build_runtime(settings, RecordingPublisher(), tools=_registry(calls))
        try:
            yield runtime
        finally:
            runtime.close()


def _submit(engine: sa.Engine, tools: list[str], **configuration: Any) -> uuid.UUID:
    add_agent(engine, "doer", tools=tools, **configuration)
    with engine.begin() as connection:
        return create_task(
            connection,
            Settings(),
            RunTaskRequest(tenant="acme", agent="doer", input="do it"),
            idempotency_key=None,
        ).task_id


def _crash(runtime: Runtime, task_id: uuid.UUID) -> None:
    """Drive the task until the worker 'dies'; then let the reaper find its lease expired."""
    with pytest.raises(SimulatedCrash):
        execute_task(runtime, task_id)
    with runtime.engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE tasks SET lease_expires_at = now() - interval '1 s' WHERE id = :i"),
            {"i": task_id},
        )
    assert (
        reap(
            runtime.engine, RecordingPublisher(), stale_after_seconds=300
        ).requeued_after_lost_worker
        == 1
    )


def _actions(engine: sa.Engine, task_id: uuid.UUID) -> dict[str, tuple[str, str | None]]:
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text("SELECT tool_name, status, error_message FROM action_logs WHERE task_id = :i"),
            {"i": task_id},
        ).all()
    return {row.tool_name: (row.status, row.error_message) for row in rows}


def _task(engine: sa.Engine, task_id: uuid.UUID) -> sa.Row[Any]:
    with engine.connect() as connection:
        return connection.execute(
            sa.text("SELECT status, error_code, result FROM tasks WHERE id = :i"), {"i": task_id}
        ).one()


def _notes(engine: sa.Engine, title: str | None = None) -> int:
    with engine.connect() as connection:
        query = "SELECT count(*) FROM ai_generated_content"
        if title is not None:
            return connection.execute(sa.text(query + " WHERE title = :t"), {"t": title}).scalar()
        return connection.execute(sa.text(query)).scalar()


def test_a_result_is_kept_the_moment_its_tool_returns_and_is_replayed_not_rerun(
    runtime: Runtime, engine: sa.Engine, calls: Calls
) -> None:
    task_id = _submit(engine, ["charge", "notify"])
    calls.crash_once = {"notify"}  # the worker dies inside the batch's second call
    _crash(runtime, task_id)
    assert _actions(engine, task_id)["charge"] == ("success", None)

    assert execute_task(runtime, task_id).status == "succeeded"
    assert calls.count()["charge"] == 1, "a call whose result was recorded ran again"


def test_a_call_whose_outcome_is_unknown_is_not_run_again_and_the_model_is_told(
    runtime: Runtime, engine: sa.Engine, calls: Calls
) -> None:
    task_id = _submit(engine, ["notify"])
    calls.crash_once = {"notify"}  # it may have acted: its result was never recorded
    _crash(runtime, task_id)

    assert execute_task(runtime, task_id).status == "succeeded"
    assert calls.count()["notify"] == 1
    assert _actions(engine, task_id)["notify"] == ("failure", OUTCOME_UNKNOWN)
    assert "outcome unknown" in _task(engine, task_id).result["output"]


def test_an_idempotent_tool_is_called_again_with_the_same_key_and_told_the_outcome_is_unknown(
    runtime: Runtime, engine: sa.Engine, calls: Calls
) -> None:
    task_id = _submit(engine, ["charge"])
    calls.crash_once = {"charge"}
    _crash(runtime, task_id)

    assert execute_task(runtime, task_id).status == "succeeded"
    (first_key, first_unknown), (second_key, second_unknown) = [
        (key, unknown) for _, key, unknown in calls.seen
    ]
    assert first_key is not None and first_key == second_key
    assert (first_unknown, second_unknown) == (False, True)
    assert _actions(engine, task_id)["charge"] == ("success", None)


def test_a_database_tool_commits_its_rows_with_its_result_or_not_at_all(
    runtime: Runtime, engine: sa.Engine, calls: Calls
) -> None:
    task_id = _submit(engine, ["save_note"])
    calls.crash_once = {"save_note"}  # dies after the tool wrote (and 'committed') its row
    _crash(runtime, task_id)
    assert _notes(engine) == 0 and _actions(engine, task_id) == {}

    assert execute_task(runtime, task_id).status == "succeeded"
    assert calls.count()["save_note"] == 2
    assert _notes(engine) == 1
    assert _actions(engine, task_id)["save_note"] == ("success", None)


def test_no_tool_with_effects_starts_once_its_task_is_cancelled(
    runtime: Runtime, engine: sa.Engine, calls: Calls
) -> None:
    task_id = _submit(engine, ["look_up", "save_note", "notify"])
    calls.crash_once = {"cancel"}  # look_up runs first; a cancel arrives while it does

    assert execute_task(runtime, task_id).status == "abandoned"
    assert calls.count() == Counter({"look_up": 1})
    assert _notes(engine) == 0
    assert _task(engine, task_id).status == "CANCELLED"


def test_a_hung_tool_times_out_and_the_run_goes_on(
    runtime: Runtime, engine: sa.Engine, calls: Calls
) -> None:
    task_id = _submit(engine, ["hang", "hang_after_writing"], tool_timeout_seconds=1)
    started = time.monotonic()

    assert execute_task(runtime, task_id).status == "succeeded"
    assert time.monotonic() - started < 30
    actions = _actions(engine, task_id)
    assert actions["hang"][0] == "timeout" and "did not return within 1 s" in actions["hang"][1]
    assert "hang_after_writing" not in actions, "a timed-out database call left a result"
    output = _task(engine, task_id).result["output"]
    assert output.count("did not return within 1 s") == 2

    calls.release.set()  # the abandoned calls return now: what they wrote must not commit
    for thread in threading.enumerate():
        if thread.name.startswith("tool-hang"):
            thread.join(10)
    assert _notes(engine, "late note") == 0


def test_a_run_past_its_deadline_fails_timed_out(
    runtime: Runtime, engine: sa.Engine, calls: Calls
) -> None:
    task_id = _submit(engine, ["slow"], timeout_seconds=1)

    outcome = execute_task(runtime, task_id)
    assert outcome.status == "failed", outcome
    task = _task(engine, task_id)
    assert (task.status, task.error_code) == ("FAILED", "timed_out")


def _wait_for(condition: Any, what: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_a_worker_that_takes_over_an_expired_lease_does_not_repeat_a_database_call(
    runtime: Runtime, engine: sa.Engine, calls: Calls
) -> None:
    slow_worker = build_runtime(
        runtime.settings, RecordingPublisher(), tools=_registry(calls), heartbeat=False
    )
    task_id = _submit(engine, ["save_note_slowly"])
    first = threading.Thread(target=execute_task, args=(slow_worker, task_id))
    try:
        first.start()
        _wait_for(lambda: calls.count()["save_note_slowly"] == 1, "the first call to start")
        with engine.begin() as connection:  # its worker stalls past its lease...
            connection.execute(
                sa.text("UPDATE tasks SET lease_expires_at = now() - interval '1 s'")
            )
        assert reap(
            engine, RecordingPublisher(), stale_after_seconds=300
        ).requeued_after_lost_worker
        outcomes: list[Any] = []
        second = threading.Thread(target=lambda: outcomes.append(execute_task(runtime, task_id)))
        second.start()  # ...and another worker takes the task over and reaches the same call

        def second_waits_on_the_first() -> bool:
            with engine.connect() as connection:
                return bool(
                    connection.execute(
                        sa.text(
                            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = "
                            "'Lock' AND query ILIKE 'INSERT INTO action_logs%'"
                        )
                    ).scalar()
                )

        _wait_for(second_waits_on_the_first, "the second worker to wait on the call's row")
        calls.release.set()  # the first call returns and commits its note with its result
        first.join(30)
        second.join(30)
    finally:
        slow_worker.close()
    assert [o.status for o in outcomes] == ["succeeded"]
    assert calls.count()["save_note_slowly"] == 1
    assert _notes(engine, "slow note") == 1


def test_a_model_call_that_outlasts_the_run_fails_it_timed_out(
    database_url: str, engine: sa.Engine, calls: Calls
) -> None:
    with LocalLLMServer(latency_ms=5000) as llm:
        settings = Settings(database_url=database_url, openai_base_url=llm.base_url)
        runtime = build_runtime(settings, RecordingPublisher(), tools=_registry(calls))
        try:
            task_id = _submit(engine, [], timeout_seconds=1)
            started = time.monotonic()
            assert execute_task(runtime, task_id).status == "failed"
            assert time.monotonic() - started < 4.5, "the call was not cut at the run's deadline"
        finally:
            runtime.close()
    task = _task(engine, task_id)
    assert (task.status, task.error_code) == ("FAILED", "timed_out")
