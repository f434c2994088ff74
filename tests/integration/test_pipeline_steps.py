"""The interview and board steps, driven by ``advance`` on the real database with the agents'
tasks ended by hand: what each outcome does to the interview, the cards and the execution."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
import sqlalchemy as sa

from models import ExecutionStatus
from tests.support.agents import add_agent, ensure_tenant
from tests.support.publisher import RecordingPublisher
from tests.support.workflows import add_workflow
from worker.orchestrator import add_card, answer_interview
from worker.workflows.catalog import start_execution
from worker.workflows.definition import InvalidWorkflow, parse_definition
from worker.workflows.engine import advance
from worker.workflows.interview_step import next_question


@pytest.fixture
def project_id(engine: sa.Engine) -> uuid.UUID:
    tenant_id = ensure_tenant(engine)
    for agent in ("asker", "worker", "committer", "after"):
        add_agent(engine, agent)
    with engine.begin() as connection:
        return connection.execute(
            sa.text("INSERT INTO projects (tenant_id, name) VALUES (:t, 'p') RETURNING id"),
            {"t": tenant_id},
        ).scalar_one()


def _start(engine: sa.Engine, steps: list[dict[str, Any]], project_id: uuid.UUID) -> uuid.UUID:
    add_workflow(engine, "flow", steps)
    with engine.begin() as connection:
        execution_id = start_execution(
            connection,
            tenant="acme",
            workflow="flow",
            input={"project_id": str(project_id)},
            idempotency_key=None,
        ).execution_id
    advance(engine, RecordingPublisher(), execution_id)
    return execution_id


def _end_latest_task(engine: sa.Engine, status: str, output: Any = None, error: str = "") -> str:
    with engine.begin() as connection:
        return connection.execute(
            sa.text(
                "UPDATE tasks SET status = :s, result = CAST(:r AS jsonb), error = :e, "
                "finished_at = now() WHERE id = (SELECT id FROM tasks WHERE status = 'PENDING' "
                "ORDER BY created_at DESC LIMIT 1) RETURNING agent_name"
            ),
            {"s": status, "r": json.dumps({"output": output}), "e": error or None},
        ).scalar_one()


def _one(engine: sa.Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as connection:
        return connection.execute(sa.text(sql), params).one()


def _answer(engine: sa.Engine, answer: Any) -> None:
    interview_id = _one(engine, "SELECT id FROM interviews").id
    with engine.begin() as connection:
        answer_interview(connection, interview_id, answer, principal=None, actor="pat")


def test_an_interviewer_that_answers_done_ends_the_interview_early(engine, project_id) -> None:
    schema = {"type": "object", "required": ["users"], "properties": {"users": {"type": "integer"}}}
    execution_id = _start(
        engine,
        [
            {
                "key": "ask",
                "kind": "interview",
                "question": "How many users?",
                "answer_schema": schema,
                "agent": "asker",
                "max_questions": 5,
            },
            {"key": "after", "kind": "agent", "agent": "after", "input": "{{ steps.ask.output }}"},
        ],
        project_id,
    )
    assert _one(engine, "SELECT status FROM ai_workflow_executions").status == "awaiting_approval"
    _answer(engine, {"users": 40})
    assert advance(engine, RecordingPublisher(), execution_id) == ExecutionStatus.RUNNING.value
    assert _end_latest_task(engine, "SUCCEEDED", "Which payment methods?") == "asker"
    advance(engine, RecordingPublisher(), execution_id)
    interview = _one(engine, "SELECT status, conversation_data AS c FROM interviews")
    assert interview.c[-1]["content"] == "Which payment methods?"
    assert interview.c[-1]["answer_schema"] == schema  # every question keeps the step's schema
    _answer(engine, {"users": 41})
    advance(engine, RecordingPublisher(), execution_id)
    assert _end_latest_task(engine, "SUCCEEDED", "DONE.") == "asker"
    advance(engine, RecordingPublisher(), execution_id)

    interview = _one(engine, "SELECT status FROM interviews")
    step = _one(engine, "SELECT status, output FROM ai_workflow_step_runs WHERE step_key = 'ask'")
    assert interview.status == "completed"
    assert step.status == "completed" and step.output["answers"] == [{"users": 40}, {"users": 41}]
    assert (
        _one(engine, "SELECT agent_name FROM tasks WHERE status = 'PENDING'").agent_name == "after"
    )


def test_a_failed_question_writer_fails_the_step_and_a_cancel_ends_the_interview(
    engine, project_id
) -> None:
    execution_id = _start(
        engine, [{"key": "ask", "kind": "interview", "agent": "asker"}], project_id
    )
    _answer(engine, "some text")
    advance(engine, RecordingPublisher(), execution_id)
    _end_latest_task(engine, "FAILED", error="model down")
    assert advance(engine, RecordingPublisher(), execution_id) == ExecutionStatus.FAILED.value
    assert _one(engine, "SELECT status FROM interviews").status == "cancelled"
    error = _one(engine, "SELECT error_log FROM ai_workflow_executions").error_log["error"]
    assert "next question of step 'ask' could not be written" in error and "model down" in error


def _board(engine: sa.Engine, project_id: uuid.UUID, titles: list[str]) -> uuid.UUID:
    tenant_id = ensure_tenant(engine)
    with engine.begin() as connection:
        for title in titles:
            add_card(connection, tenant_id=tenant_id, project_id=project_id, title=title)
    return _start(
        engine,
        [
            {
                "key": "build",
                "kind": "board",
                "agent": "worker",
                "committer": "committer",
                "cards": 2,
            }
        ],
        project_id,
    )


def test_a_rejected_commit_sends_its_card_back_to_todo(engine, project_id) -> None:
    execution_id = _board(engine, project_id, ["first", "second", "third"])
    cards = {r.title: r.status for r in _rows(engine, "SELECT title, status FROM board_tasks")}
    assert cards == {"first": "in_progress", "second": "in_progress", "third": "backlog"}
    for _ in range(2):
        assert _end_latest_task(engine, "SUCCEEDED", "did it") == "worker"
    advance(engine, RecordingPublisher(), execution_id)
    assert {
        r.status for r in _rows(engine, "SELECT status FROM board_tasks WHERE title != 'third'")
    } == {"review"}
    # Both committers end without writing a commit: their approvers rejected it.
    for _ in range(2):
        assert _end_latest_task(engine, "SUCCEEDED", "rejected") == "committer"
    assert advance(engine, RecordingPublisher(), execution_id) == ExecutionStatus.COMPLETED.value

    cards = {r.title: r.status for r in _rows(engine, "SELECT title, status FROM board_tasks")}
    assert cards == {"first": "todo", "second": "todo", "third": "backlog"}
    output = _one(engine, "SELECT output FROM ai_workflow_step_runs").output
    assert {c["phase"] for c in output["cards"].values()} == {"rejected"}
    assert {r.status for r in _rows(engine, "SELECT status FROM chat_sessions")} == {"completed"}


def test_a_card_whose_work_fails_fails_the_step_and_goes_back_to_todo(engine, project_id) -> None:
    execution_id = _board(engine, project_id, ["only"])
    _end_latest_task(engine, "FAILED", error="tool broke")
    assert advance(engine, RecordingPublisher(), execution_id) == ExecutionStatus.FAILED.value
    assert _one(engine, "SELECT status FROM board_tasks").status == "todo"
    assert _one(engine, "SELECT status FROM chat_sessions").status == "failed"
    error = _one(engine, "SELECT error_log FROM ai_workflow_executions").error_log["error"]
    assert error == "board task 'only' failed: tool broke"


def test_an_empty_backlog_completes_the_board_step_at_once(engine, project_id) -> None:
    execution_id = _board(engine, project_id, [])
    assert (
        _one(
            engine, "SELECT status FROM ai_workflow_executions WHERE id = :e", e=execution_id
        ).status
        == "completed"
    )


def test_a_step_without_a_project_fails_saying_what_it_needs(engine, project_id) -> None:
    add_workflow(
        engine, "flow", [{"key": "ask", "kind": "interview", "project": "{{ input.nope }}"}]
    )
    with engine.begin() as connection:
        execution_id = start_execution(
            connection, tenant="acme", workflow="flow", input={}, idempotency_key=None
        ).execution_id
    assert advance(engine, RecordingPublisher(), execution_id) == ExecutionStatus.FAILED.value
    error = _one(engine, "SELECT error_log FROM ai_workflow_executions").error_log["error"]
    assert "names no project" in error


def test_an_interview_step_with_an_invalid_answer_schema_is_refused_when_saved() -> None:
    with pytest.raises(InvalidWorkflow, match="answer_schema of step 'ask' is not a valid JSON"):
        parse_definition([{"key": "ask", "kind": "interview", "answer_schema": {"type": 12}}])


@pytest.mark.parametrize(
    ("output", "question"),
    [
        ("Which colours?", "Which colours?"),
        ("DONE", None),
        (" done! ", None),
        ("", None),
        ({"question": "Why?", "done": False}, "Why?"),
        ({"question": "Why?", "done": True}, None),
        (None, None),
    ],
)
def test_the_next_question_is_read_from_text_or_a_structured_output(output, question) -> None:
    assert next_question(output) == question


def _rows(engine: sa.Engine, sql: str) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.execute(sa.text(sql)).all())


def test_another_tenants_project_is_no_project(engine, project_id) -> None:
    other = ensure_tenant(engine, "globex")
    with engine.begin() as connection:
        foreign = connection.execute(
            sa.text("INSERT INTO projects (tenant_id, name) VALUES (:t, 'theirs') RETURNING id"),
            {"t": other},
        ).scalar_one()
    execution_id = _start(engine, [{"key": "ask", "kind": "interview"}], foreign)
    status = _one(engine, "SELECT status FROM ai_workflow_executions WHERE id = :e", e=execution_id)
    assert status.status == "failed"
    assert _rows(engine, "SELECT id FROM interviews") == []
