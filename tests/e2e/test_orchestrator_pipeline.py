"""Seed 004's orchestrator pipeline on real workers: an interview answered by a person (an
answer that fails its schema is refused and nothing is lost), prompts, a board, a card worked
in its chat session and committed only after an approver accepts the commit; each stage on the
tenant's ai_models row of its usage type; and a worker killed mid-pipeline changes nothing."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import sqlalchemy as sa

from models import ExecutionStatus, ModelUsageType
from tests.support.agents import ensure_tenant
from tests.support.people import add_member
from tests.support.stack import Stack, wait_until
from worker.durable import faults
from worker.orchestrator import InvalidAnswer, save_prompt
from worker.workflows.pipeline import PIPELINE_WORKFLOW, install_pipeline

APPROVER = "rita@acme.test"
#: The model each stage's ai_models row names, so a run's model shows which row it used.
STAGE_MODELS = {
    ModelUsageType.INTERVIEW: "stage-interview",
    ModelUsageType.PROMPT_GENERATION: "stage-prompts",
    ModelUsageType.GENERAL: "stage-general",
    ModelUsageType.TASK_EXECUTION: "stage-execution",
    ModelUsageType.COMMIT_GENERATION: "stage-commit",
}


def _pipeline(stack: Stack) -> uuid.UUID:
    """The tenant's pipeline, one ai_models row per stage, two questions at most (a setting),
    and a project with a reusable prompt; returns the project's id."""
    tenant_id = ensure_tenant(stack.engine)
    with stack.engine.begin() as connection:
        install_pipeline(connection, "acme")
        for usage, model in STAGE_MODELS.items():
            connection.execute(
                sa.text(
                    "INSERT INTO ai_models (tenant_id, name, provider, usage_type, model, base_url)"
                    " VALUES (:t, :name, 'openai', :usage, :model, :url)"
                ),
                {
                    "t": tenant_id,
                    "name": model,
                    "usage": usage.value,
                    "model": model,
                    "url": stack.llm.base_url,
                },
            )
        connection.execute(
            sa.text(
                "INSERT INTO system_settings (tenant_id, key, value) VALUES "
                "(:t, 'orchestrator.interview.max_questions', '2')"
            ),
            {"t": tenant_id},
        )
        project_id = connection.execute(
            sa.text("INSERT INTO projects (tenant_id, name) VALUES (:t, 'shop') RETURNING id"),
            {"t": tenant_id},
        ).scalar_one()
        save_prompt(
            connection,
            tenant_id=tenant_id,
            project_id=project_id,
            content="Write tests first; keep modules small.",
            prompt_type="conventions",
            is_reusable=True,
        )
    add_member(stack.engine, "acme", APPROVER, "approver")
    return project_id


def _interview(stack: Stack, execution_id: uuid.UUID) -> Any:
    return stack.rows("SELECT * FROM interviews WHERE workflow_execution_id = :e", e=execution_id)[
        0
    ]


def _waiting_question(stack: Stack, execution_id: uuid.UUID, number: int) -> uuid.UUID:
    def asked() -> uuid.UUID | None:
        rows = stack.rows(
            "SELECT id, conversation_data AS c FROM interviews WHERE workflow_execution_id = :e",
            e=execution_id,
        )
        if rows and rows[0].c[-1]["role"] == "assistant" and rows[0].c[-1]["question"] == number:
            return rows[0].id
        return None

    return wait_until(asked, timeout=180, failure=lambda: _logs(stack, execution_id))


def _logs(stack: Stack, execution_id: uuid.UUID) -> str:
    execution = stack.client.get_execution(execution_id)
    return f"{execution}\n" + "\n".join(w.log()[-3000:] for w in stack.workers)


def _approve_commit(stack: Stack, execution_id: uuid.UUID) -> Any:
    approval = wait_until(
        lambda: next(
            (a for a in stack.client.approvals() if a.payload.get("tool") == "commit_changes"),
            None,
        ),
        timeout=240,
        failure=lambda: _logs(stack, execution_id),
    )
    stack.client.resolve_approval(approval.id, "approve", user=APPROVER, comment="ship it")
    return approval


def _finished(stack: Stack, execution_id: uuid.UUID) -> Any:
    return wait_until(
        lambda: (
            v
            if (v := stack.client.get_execution(execution_id)).status
            in (ExecutionStatus.COMPLETED, ExecutionStatus.FAILED)
            else None
        ),
        timeout=240,
        failure=lambda: _logs(stack, execution_id),
    )


def _answer_both_questions(stack: Stack, execution_id: uuid.UUID) -> uuid.UUID:
    interview_id = _waiting_question(stack, execution_id, 1)
    stack.client.answer_interview(interview_id, "A web shop for second-hand bikes.", actor="pat")
    _waiting_question(stack, execution_id, 2)
    stack.client.answer_interview(interview_id, "Cyclists in Lisbon.", question=2, actor="pat")
    return interview_id


def test_the_pipeline_interviews_plans_works_and_commits_after_approval(stack: Stack) -> None:
    project_id = _pipeline(stack)
    stack.start_worker()
    execution_id = stack.client.start_workflow(
        tenant="acme", workflow=PIPELINE_WORKFLOW, input={"project_id": str(project_id)}
    )
    interview_id = _waiting_question(stack, execution_id, 1)
    assert stack.client.get_execution(execution_id).status == ExecutionStatus.AWAITING_APPROVAL

    with pytest.raises(InvalidAnswer, match=r"does not fit its schema.*answer again"):
        stack.client.answer_interview(interview_id, {"not": "text"}, actor="pat")
    assert len(_interview(stack, execution_id).conversation_data) == 1  # nothing recorded
    _answer_both_questions(stack, execution_id)
    approval = _approve_commit(stack, execution_id)
    done = _finished(stack, execution_id)

    assert done.status == ExecutionStatus.COMPLETED, done.error
    interview = _interview(stack, execution_id)
    assert interview.status == "completed"
    assert [m["role"] for m in interview.conversation_data] == ["assistant", "user"] * 2
    assert interview.conversation_data[1]["content"] == "A web shop for second-hand bikes."
    assert interview.ai_model_used == STAGE_MODELS[ModelUsageType.INTERVIEW]
    (prompt,) = stack.rows(
        "SELECT * FROM prompts WHERE created_from_interview_id = :i", i=interview_id
    )
    assert (prompt.type, prompt.version, prompt.is_reusable) == ("task", 1, False)
    assert [c["type"] for c in prompt.components] == ["conventions"]
    (card,) = stack.rows("SELECT * FROM board_tasks WHERE project_id = :p", p=project_id)
    assert (card.status, card.column, card.prompt_id) == ("done", "done", prompt.id)
    (chat,) = stack.rows("SELECT * FROM chat_sessions WHERE board_task_id = :c", c=card.id)
    assert chat.status == "completed"
    assert chat.ai_model_used == STAGE_MODELS[ModelUsageType.TASK_EXECUTION]
    assert [m["role"] for m in chat.messages][:1] == ["user"] and chat.messages[-1][
        "role"
    ] == "assistant"
    (commit,) = stack.rows("SELECT * FROM commits WHERE board_task_id = :c", c=card.id)
    assert commit.type == "feat" and commit.message.startswith("feat: ")
    assert approval.payload["arguments"]["description"] in commit.message
    assert (commit.created_by_ai_model, commit.author) == (
        STAGE_MODELS[ModelUsageType.COMMIT_GENERATION],
        "AI System",
    )
    models_by_agent = {
        r.agent_name: r.model
        for r in stack.rows(
            "SELECT t.agent_name, r.model FROM agent_runs r JOIN tasks t ON t.id = r.task_id "
            "WHERE t.workflow_execution_id = :e",
            e=execution_id,
        )
    }
    assert models_by_agent == {
        "interviewer": STAGE_MODELS[ModelUsageType.INTERVIEW],
        "prompt_engineer": STAGE_MODELS[ModelUsageType.PROMPT_GENERATION],
        "planner": STAGE_MODELS[ModelUsageType.GENERAL],
        "task_executor": STAGE_MODELS[ModelUsageType.TASK_EXECUTION],
        "committer": STAGE_MODELS[ModelUsageType.COMMIT_GENERATION],
    }
    answers = stack.rows(
        "SELECT actor FROM audit_logs WHERE action = 'interview.answered' AND resource_id = :i",
        i=str(interview_id),
    )
    assert [a.actor for a in answers] == ["pat", "pat"]


def test_a_worker_killed_mid_pipeline_leaves_every_row_once(stack: Stack) -> None:
    project_id = _pipeline(stack)
    # The first tool call this worker makes (the prompt engineer's save_prompt) returns and
    # the worker dies before its result is persisted: the prompt's row went with it.
    doomed = stack.start_worker(
        AGENTWORKER_FAULT_POINT=f"{faults.AFTER_TOOL_RETURNED}:1", AGENTWORKER_LEASE_SECONDS="2"
    )
    execution_id = stack.client.start_workflow(
        tenant="acme", workflow=PIPELINE_WORKFLOW, input={"project_id": str(project_id)}
    )
    _answer_both_questions(stack, execution_id)
    wait_until(lambda: doomed.process.poll() is not None, timeout=240, failure=lambda: doomed.log())
    stack.start_worker(AGENTWORKER_LEASE_SECONDS="2", beat=True)
    _approve_commit(stack, execution_id)
    done = _finished(stack, execution_id)

    assert done.status == ExecutionStatus.COMPLETED, done.error
    counts = stack.rows(
        "SELECT (SELECT count(*) FROM prompts WHERE NOT is_reusable) AS prompts, "
        "(SELECT count(*) FROM board_tasks) AS cards, (SELECT count(*) FROM chat_sessions) "
        "AS chats, (SELECT count(*) FROM commits) AS commits, (SELECT count(*) FROM "
        "interviews) AS interviews"
    )[0]
    assert tuple(counts) == (1, 1, 1, 1, 1)
