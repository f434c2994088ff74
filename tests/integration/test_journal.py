"""worker.durable.journal against PostgreSQL: a step is written whole, and only under the lease."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from models import (
    ActionStatus,
    AgentRun,
    AgentRunStatus,
    ErrorSeverity,
    EventType,
    MetricCategory,
    TaskStatus,
)
from tests.support.rows import RowFactory
from worker.agents.tool_calls import idempotency_key
from worker.durable import conversation, journal, records
from worker.durable.action_logs import ACTION_LOGS

OWNER = "host:1:test"


def _running_task(engine: sa.Engine, owner: str = OWNER) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    """(tenant, task, run): a RUNNING task leased to ``owner`` with a RUNNING run."""
    with engine.begin() as connection:
        rows = RowFactory(connection)
        task_id = rows.insert(
            "tasks",
            status=TaskStatus.RUNNING,
            lease_owner=owner,
            lease_expires_at=sa.func.now() + sa.text("interval '1 minute'"),
        )
        run_id = rows.insert(
            "agent_runs", task_id=task_id, status=AgentRunStatus.RUNNING, message_count=1
        )
        rows.insert(
            "agent_run_messages", run_id=run_id, seq=1, message={"role": "user", "content": "hi"}
        )
        return rows.tenant_id, task_id, run_id


def _conversation(engine: sa.Engine, run_id: uuid.UUID) -> tuple[int, list[tuple[int, str]]]:
    """(message_count, [(seq, role)…]) of run ``run_id``."""
    with engine.connect() as connection:
        count = connection.execute(
            sa.text("SELECT message_count FROM agent_runs WHERE id = :id"), {"id": run_id}
        ).scalar_one()
        rows = connection.execute(
            sa.text(
                "SELECT seq, message->>'role' FROM agent_run_messages WHERE run_id = :id "
                "ORDER BY seq"
            ),
            {"id": run_id},
        ).all()
    return count, [tuple(row) for row in rows]


def _step(tenant_id: uuid.UUID, task_id: uuid.UUID, run_id: uuid.UUID) -> journal.Step:
    scope = records.Scope(tenant_id=tenant_id, task_id=task_id, agent_run_id=run_id)
    return journal.Step(
        [{"role": "assistant", "content": None, "tool_calls": [{"id": "c1"}]}],
        events=[
            records.event(scope, EventType.LLM_CALL, "asked for 1 tool call(s)", {"n": 1}),
            records.event(scope, EventType.TOOL_CALL, "current_time", {"n": 2}),
        ],
        metrics=[
            {
                "tenant_id": tenant_id,
                "agent_id": None,
                "metric_category": MetricCategory.LATENCY,
                "metric_name": "llm.chat.latency_ms",
                "metric_value": Decimal("12.3456"),
                "measurement_context": {"attempt": 1},
                "measurement_timestamp": datetime.now(UTC),
            }
        ],
        action_logs=[_action(tenant_id, task_id, run_id, "c1", ActionStatus.SUCCESS)],
        llm_calls=1,
        prompt_tokens=30,
        completion_tokens=7,
        cost=Decimal("0.000123"),
    )


def _action(
    tenant_id: uuid.UUID, task_id: uuid.UUID, run_id: uuid.UUID, call: str, status: ActionStatus
) -> dict[str, Any]:
    return {
        "tenant_id": tenant_id,
        "task_id": task_id,
        "agent_run_id": run_id,
        "tool_call_id": call,
        "tool_name": "current_time",
        "provider_name": "agentworker",
        "action_type": None,
        "request_payload": {"timezone": "UTC"},
        "response_data": {"now": "2026-11-25T12:00:00Z"}
        if status == ActionStatus.SUCCESS
        else None,
        "status": status,
        "error_message": None,
        "execution_time_ms": 3,
        "idempotency_key": idempotency_key(run_id, call),
    }


def _append(engine: sa.Engine, task_id: uuid.UUID, run_id: uuid.UUID, step: journal.Step) -> bool:
    with engine.connect() as connection:
        written = journal.append(
            connection, task_id=task_id, owner=OWNER, run_id=run_id, model="m-1", step=step
        )
        connection.commit()
    return written


def test_append_writes_the_whole_step_under_the_lease(engine: sa.Engine) -> None:
    tenant_id, task_id, run_id = _running_task(engine)
    assert _append(engine, task_id, run_id, _step(tenant_id, task_id, run_id))

    with engine.connect() as connection:
        run = connection.execute(
            sa.text(
                "SELECT step_count, llm_calls, prompt_tokens, completion_tokens, cost, "
                "model FROM agent_runs WHERE id = :id"
            ),
            {"id": run_id},
        ).one()
        events = connection.execute(
            sa.text("SELECT event_type, data FROM event_logs WHERE agent_run_id = :id ORDER BY id"),
            {"id": run_id},
        ).all()
        metric = connection.execute(
            sa.text("SELECT metric_value, measurement_context FROM ai_performance_metrics")
        ).one()
        action = connection.execute(
            sa.text("SELECT status, response_data, execution_time_ms FROM action_logs")
        ).one()
    assert _conversation(engine, run_id) == (2, [(1, "user"), (2, "assistant")])
    assert (run.step_count, run.llm_calls, run.prompt_tokens, run.completion_tokens) == (
        1,
        1,
        30,
        7,
    )
    assert (run.cost, run.model) == (Decimal("0.000123"), "m-1")
    assert [(e.event_type, e.data) for e in events] == [
        (EventType.LLM_CALL, {"n": 1}),
        (EventType.TOOL_CALL, {"n": 2}),
    ]
    assert metric.metric_value == Decimal("12.3456")
    assert metric.measurement_context == {"attempt": 1}
    assert (action.status, action.response_data, action.execution_time_ms) == (
        ActionStatus.SUCCESS,
        {"now": "2026-11-25T12:00:00Z"},
        3,
    )


@pytest.mark.parametrize("change", ["another owner", "cancelled"])
def test_append_writes_nothing_once_the_lease_is_lost(engine: sa.Engine, change: str) -> None:
    tenant_id, task_id, run_id = _running_task(engine)
    with engine.begin() as connection:
        values = (
            {"lease_owner": "someone-else"}
            if change == "another owner"
            else {"status": TaskStatus.CANCELLED}
        )
        connection.execute(
            sa.text(
                "UPDATE tasks SET " + ", ".join(f"{k} = :{k}" for k in values) + " WHERE id = :id"
            ),
            {**values, "id": task_id},
        )

    assert not _append(engine, task_id, run_id, _step(tenant_id, task_id, run_id))

    with engine.connect() as connection:
        step_count = connection.execute(
            sa.text("SELECT step_count FROM agent_runs WHERE id = :id"), {"id": run_id}
        ).scalar_one()
        written = connection.execute(
            sa.text(
                "SELECT (SELECT count(*) FROM event_logs) + (SELECT count(*) FROM action_logs) "
                "+ (SELECT count(*) FROM ai_performance_metrics)"
            )
        ).scalar_one()
    assert (step_count, written) == (0, 0)
    assert _conversation(engine, run_id) == (1, [(1, "user")])  # no row, the count unchanged


def test_steps_number_their_messages_after_the_run_s_count(engine: sa.Engine) -> None:
    tenant_id, task_id, run_id = _running_task(engine)
    tools = journal.Step(
        [{"role": "tool", "tool_call_id": f"c{n}", "content": str(n)} for n in (1, 2, 3)]
    )
    assert _append(engine, task_id, run_id, _step(tenant_id, task_id, run_id))
    assert _append(engine, task_id, run_id, tools)
    assert _append(engine, task_id, run_id, journal.Step([]))  # a step with no message

    count, rows = _conversation(engine, run_id)
    assert (count, rows) == (
        5,
        [(1, "user"), (2, "assistant"), (3, "tool"), (4, "tool"), (5, "tool")],
    )
    with engine.connect() as connection:
        assert conversation.load(connection, run_id)[2:] == tools.messages
        assert conversation.tail(connection, run_id, 2) == (tools.messages[1:], 5)


def test_a_step_that_cannot_write_its_messages_writes_nothing(engine: sa.Engine) -> None:
    """The rows and the count are one statement: a failing message row (here: its number is
    taken already) undoes the count, the counters and the events with it."""
    tenant_id, task_id, run_id = _running_task(engine)
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO agent_run_messages (run_id, seq, tenant_id, message) "
                'VALUES (:run, 2, :tenant, \'{"role": "planted"}\')'
            ),
            {"run": run_id, "tenant": tenant_id},
        )
    with pytest.raises(sa.exc.IntegrityError, match="pk_agent_run_messages"):
        _append(engine, task_id, run_id, _step(tenant_id, task_id, run_id))

    with engine.connect() as connection:
        step_count, events = connection.execute(
            sa.text(
                "SELECT step_count, (SELECT count(*) FROM event_logs) FROM agent_runs "
                "WHERE id = :id"
            ),
            {"id": run_id},
        ).one()
    assert (step_count, events) == (0, 0)
    assert _conversation(engine, run_id) == (1, [(1, "user"), (2, "planted")])


def test_append_completes_a_call_recorded_before_its_tool_ran(engine: sa.Engine) -> None:
    tenant_id, task_id, run_id = _running_task(engine)
    pending = _action(tenant_id, task_id, run_id, "c1", ActionStatus.PENDING)
    with engine.begin() as connection:
        connection.execute(sa.insert(ACTION_LOGS.table).values(pending))

    assert _append(engine, task_id, run_id, _step(tenant_id, task_id, run_id))

    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT status, execution_time_ms FROM action_logs"))
        assert rows.all() == [(ActionStatus.SUCCESS, 3)]


def _finish(
    engine: sa.Engine, task_id: uuid.UUID, run_id: uuid.UUID, step: journal.Step
) -> journal.Finished | None:
    with engine.connect() as connection:
        finished = journal.finish(
            connection,
            task_id=task_id,
            owner=OWNER,
            run_id=run_id,
            model="m-1",
            step=step,
            output={"answer": 42},
            summary="answer 42",
        )
        connection.commit()
    return finished


def test_finish_ends_task_and_run_with_the_last_step(engine: sa.Engine) -> None:
    tenant_id, task_id, run_id = _running_task(engine)
    assert _finish(engine, task_id, run_id, _step(tenant_id, task_id, run_id))

    with engine.connect() as connection:
        task = connection.execute(
            sa.text(
                "SELECT status, result, result_summary, lease_owner, finished_at FROM tasks "
                "WHERE id = :id"
            ),
            {"id": task_id},
        ).one()
        run = connection.execute(
            sa.text(
                "SELECT status, output, output_summary, llm_calls, finished_at FROM agent_runs "
                "WHERE id = :id"
            ),
            {"id": run_id},
        ).one()
        events = connection.execute(
            sa.text("SELECT count(*) FROM event_logs WHERE agent_run_id = :id"), {"id": run_id}
        ).scalar_one()
    assert (task.status, task.result, task.result_summary, task.lease_owner) == (
        TaskStatus.SUCCEEDED,
        {"output": {"answer": 42}},
        "answer 42",
        None,
    )
    assert task.finished_at is not None
    assert (run.status, run.output, run.output_summary, run.llm_calls) == (
        AgentRunStatus.COMPLETED,
        {"answer": 42},
        "answer 42",
        1,
    )
    assert run.finished_at is not None
    assert events == 2
    assert _conversation(engine, run_id) == (2, [(1, "user"), (2, "assistant")])


def test_finish_changes_nothing_once_the_lease_is_lost(engine: sa.Engine) -> None:
    tenant_id, task_id, run_id = _running_task(engine, owner="someone-else")
    assert not _finish(engine, task_id, run_id, _step(tenant_id, task_id, run_id))

    with engine.connect() as connection:
        statuses = connection.execute(
            sa.text(
                "SELECT t.status, r.status, (SELECT count(*) FROM event_logs) FROM tasks t "
                "JOIN agent_runs r ON r.task_id = t.id WHERE t.id = :id"
            ),
            {"id": task_id},
        ).one()
    assert tuple(statuses) == (TaskStatus.RUNNING, AgentRunStatus.RUNNING, 0)
    assert _conversation(engine, run_id) == (1, [(1, "user")])


def test_records_write_keeps_order_and_every_kind(engine: sa.Engine) -> None:
    tenant_id, task_id, run_id = _running_task(engine)
    scope = records.Scope(tenant_id=tenant_id, task_id=task_id, agent_run_id=run_id)
    with engine.begin() as connection:
        records.write(
            connection,
            events=[records.event(scope, EventType.LOG, f"line {i}") for i in range(25)],
            errors=[
                records.error_log(
                    scope, error_type="test.kind", message="boom", severity=ErrorSeverity.LOW
                )
            ],
        )
    with engine.connect() as connection:
        contents = connection.execute(
            sa.text("SELECT content FROM event_logs ORDER BY id")
        ).scalars()
        assert list(contents) == [f"line {i}" for i in range(25)]
        error = connection.execute(sa.text("SELECT error_type, severity FROM ai_error_logs")).one()
        assert tuple(error) == ("test.kind", ErrorSeverity.LOW)


def test_a_row_with_a_column_the_batch_does_not_write_is_refused() -> None:
    with pytest.raises(ValueError, match="add them to its columns"):
        records.EVENTS.payload([{"tenant_id": uuid.uuid4(), "colour": "red"}])


def test_the_published_model_reads_the_conversation_in_order(engine: sa.Engine) -> None:
    tenant_id, task_id, run_id = _running_task(engine)
    assert _append(engine, task_id, run_id, _step(tenant_id, task_id, run_id))
    with Session(engine) as session:
        run = session.scalars(
            sa.select(AgentRun)
            .where(AgentRun.id == run_id)
            .options(selectinload(AgentRun.conversation))
        ).one()
        assert [row.seq for row in run.conversation] == [1, 2]
        assert [m["role"] for m in run.messages] == ["user", "assistant"]
        assert run.message_count == 2
