"""The ``interview`` step: questions to a person, each answer awaited without a worker.

The step opens the project's interview with its first question and waits (the execution is
AWAITING_APPROVAL: a person must act). An answer (``worker.orchestrator.answer_interview``,
through the API or the CLI) is checked against the question's schema and wakes the execution;
the step then gives its ``agent`` a task that writes the next question from the conversation so
far (using the tenant's ``interview`` model), appends it, and waits again, until the agent
answers DONE or ``max_questions`` were asked. The step's output is the interview: its id, its
answers and its transcript, for the steps after it.
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from models import AgentRun, InterviewStatus, Project, StepRunStatus, Task, TaskStatus
from worker.orchestrator import TEXT_ANSWER, InterviewState, load_interview, open_interview, setting
from worker.orchestrator.interviews import ask, finish_interview
from worker.workflows.advancing import Advance, Fail, Goto, StepOutcome, Wait
from worker.workflows.definition import InterviewStep, render
from worker.workflows.step_tasks import create_step_task

_tasks = Task.__table__
_runs = AgentRun.__table__
#: What the question-writing agent answers when it has heard enough.
DONE = "DONE"


def interview_step(state: Advance, step: InterviewStep) -> StepOutcome:
    run = state.step_run(step.key, "interview")
    status = StepRunStatus(run.status)
    if status in (StepRunStatus.COMPLETED, StepRunStatus.SKIPPED):
        return Goto(state.following(step.key))
    if status == StepRunStatus.PENDING:
        return _open(state, step)
    interview = load_interview(state.connection, uuid.UUID(run.input["interview_id"]))
    if interview.status == InterviewStatus.CANCELLED:
        reason = f"interview {interview.id} was cancelled"
        state.transition(step.key, StepRunStatus.FAILED, error=reason, finished_at=sa.func.now())
        return Fail(reason)
    if status == StepRunStatus.AWAITING_APPROVAL:
        return _after_answer(state, step, interview)
    if status == StepRunStatus.RUNNING:
        return _after_question_written(state, step, interview, run.task_id)
    return Fail(f"step '{step.key}' is {status.value}")


def _open(state: Advance, step: InterviewStep) -> StepOutcome:
    tenant_id = state.execution.tenant_id
    project_id = project_of(state, step.project)
    if project_id is None:
        return _fail(state, step, no_project(step.key))
    question = step.question or str(
        setting(state.connection, tenant_id, "orchestrator.interview.first_question")
    )
    interview = open_interview(
        state.connection,
        tenant_id=tenant_id,
        project_id=project_id,
        first_question=question,
        answer_schema=step.answer_schema or TEXT_ANSWER,
        workflow_execution_id=state.execution.id,
        workflow_step=step.key,
    )
    state.transition(
        step.key,
        StepRunStatus.AWAITING_APPROVAL,
        input={"interview_id": str(interview.id), "project_id": str(project_id)},
        started_at=sa.func.now(),
    )
    return Wait()


def _after_answer(state: Advance, step: InterviewStep, interview: InterviewState) -> StepOutcome:
    if interview.waiting_question is not None:
        return Wait()
    limit = step.max_questions or int(
        setting(state.connection, state.execution.tenant_id, "orchestrator.interview.max_questions")
    )
    if step.agent is None or interview.questions_asked >= limit:
        return _complete(state, step, interview)
    number = interview.questions_asked + 1
    task_id = create_step_task(
        state,
        step.key,
        step.agent,
        _next_question_request(interview),
        round_key=f"q{number}",
        title=f"{step.key}: question {number} ({step.agent})",
    )
    state.transition(step.key, StepRunStatus.RUNNING, task_id=task_id)
    return Wait()


def _after_question_written(
    state: Advance, step: InterviewStep, interview: InterviewState, task_id: uuid.UUID
) -> StepOutcome:
    task = state.connection.execute(
        sa.select(_tasks.c.status, _tasks.c.result, _tasks.c.error).where(_tasks.c.id == task_id)
    ).one()
    if task.status in (TaskStatus.FAILED, TaskStatus.CANCELLED):
        return _fail(
            state,
            step,
            f"the next question of step '{step.key}' could not be "
            f"written ({step.agent} {task.status.lower()}): {task.error}",
        )
    if task.status != TaskStatus.SUCCEEDED:
        return Wait()
    question = next_question((task.result or {}).get("output"))
    if question is None:
        return _complete(state, step, interview)
    ask(state.connection, interview, question, step.answer_schema or TEXT_ANSWER)
    state.transition(step.key, StepRunStatus.AWAITING_APPROVAL)
    return Wait()


def _complete(state: Advance, step: InterviewStep, interview: InterviewState) -> Goto:
    model = _model_of_last_question(state, step)
    finish_interview(state.connection, interview.id, InterviewStatus.COMPLETED, model=model)
    output = {
        "interview_id": str(interview.id),
        "project_id": str(interview.project_id),
        "answers": interview.answers,
        "transcript": interview.transcript(),
    }
    state.transition(step.key, StepRunStatus.COMPLETED, output=output, finished_at=sa.func.now())
    return Goto(state.following(step.key))


def _fail(state: Advance, step: InterviewStep, reason: str) -> Fail:
    state.transition(step.key, StepRunStatus.FAILED, error=reason, finished_at=sa.func.now())
    return Fail(reason)


def next_question(output: Any) -> str | None:
    """The agent's next question, or None when it answered DONE (or nothing). A structured
    output may give it as ``{"question": …, "done": …}``."""
    if isinstance(output, dict):
        if output.get("done"):
            return None
        output = output.get("question")
    if not isinstance(output, str) or not output.strip():
        return None
    text = output.strip()
    return None if text.upper().rstrip(".!") == DONE else text[:2000]


def project_of(state: Advance, template: Any) -> uuid.UUID | None:
    """The project the step's template names, if the tenant has it. Row-level security hides
    another tenant's projects, but a foreign key would not: so it is looked up, not trusted."""
    value = render(template, state.context())
    try:
        project_id = uuid.UUID(str(value))
    except ValueError:
        return None
    found: uuid.UUID | None = state.connection.execute(
        sa.select(Project.id).where(
            Project.id == project_id, Project.tenant_id == state.execution.tenant_id
        )
    ).scalar_one_or_none()
    return found


def no_project(step_key: str) -> str:
    return (
        f"step '{step_key}' names no project of this tenant: its 'project' template must give "
        "the id of one of the tenant's projects (create one with POST /v1/projects)"
    )


def _next_question_request(interview: InterviewState) -> str:
    return (
        "Here is the interview so far.\n"
        f"{interview.transcript()}\n"
        f"Ask question {interview.questions_asked + 1}: the one thing still unclear, in one "
        f"sentence; or reply {DONE} if the requirements are clear."
    )


def _model_of_last_question(state: Advance, step: InterviewStep) -> str | None:
    run = state.step_runs[step.key]
    if run.task_id is None:
        return None
    model: str | None = state.connection.execute(
        sa.select(_runs.c.model)
        .where(_runs.c.task_id == run.task_id)
        .order_by(_runs.c.started_at.desc())
        .limit(1)
    ).scalar_one_or_none()
    return model
