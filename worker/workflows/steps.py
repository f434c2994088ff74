"""The step kinds of a workflow, each moved one guarded transition at a time by ``advance``.

An agent step becomes a task of its own (published after commit) and completes when the task
does; an approval step requests an approval and waits, holding no worker, then applies its
``on_reject`` / ``on_timeout`` policy; a parallel step runs its branches as agent steps and
joins when the last one ends; a condition records which way it went, so a replay goes the
same way; an interview (``interview_step``) and a board (``board_step``) drive seed 004's
pipeline. Each reads its step run first, so a message delivered twice moves nothing twice.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from models import (
    AIWorkflowStepRun,
    Approval,
    ApprovalKind,
    ApprovalStatus,
    StepRunStatus,
    Task,
    TaskStatus,
)
from worker.approvals.requests import request_approval
from worker.core import tracing
from worker.core.errors import AgentWorkerError
from worker.workflows.advancing import Advance, Fail, Goto, StepOutcome, Wait
from worker.workflows.board_step import board_step
from worker.workflows.definition import (
    AgentStep,
    ApprovalStep,
    BoardStep,
    ConditionStep,
    InterviewStep,
    ParallelStep,
    condition_holds,
    render,
)
from worker.workflows.interview_step import interview_step
from worker.workflows.step_tasks import create_step_task

_step_runs = AIWorkflowStepRun.__table__
_tasks = Task.__table__
_FINISHED = {StepRunStatus.COMPLETED, StepRunStatus.SKIPPED}


def run_step(state: Advance, step: Any) -> StepOutcome:
    """Move ``step`` as far as it can go now and say what the execution does next."""
    if isinstance(step, AgentStep):
        return _agent_step(state, step, step.key)
    if isinstance(step, ApprovalStep):
        return _approval_step(state, step)
    if isinstance(step, ParallelStep):
        return _parallel_step(state, step)
    if isinstance(step, ConditionStep):
        return _condition_step(state, step)
    if isinstance(step, InterviewStep):
        return interview_step(state, step)
    if isinstance(step, BoardStep):
        return board_step(state, step)
    raise AgentWorkerError(f"unknown step kind in {step!r}")


def _agent_step(state: Advance, step: AgentStep, next_after: str) -> StepOutcome:
    """``next_after`` is the step whose successor follows: the step itself, or the parallel
    step a branch belongs to."""
    run = state.step_run(step.key, "agent")
    status = StepRunStatus(run.status)
    if status in _FINISHED:
        return Goto(state.following(next_after))
    if status == StepRunStatus.PENDING:
        task_id = _create_step_task(state, step)
        state.transition(
            step.key,
            StepRunStatus.RUNNING,
            task_id=task_id,
            started_at=sa.func.now(),
            attempts=_step_runs.c.attempts + 1,
            input={"input": render(step.input, state.context())},
        )
        return Wait()
    if status == StepRunStatus.RUNNING:
        task = state.connection.execute(
            sa.select(_tasks.c.status, _tasks.c.result, _tasks.c.error).where(
                _tasks.c.id == run.task_id
            )
        ).one()
        if task.status == TaskStatus.SUCCEEDED:
            output = (task.result or {}).get("output")
            state.transition(
                step.key, StepRunStatus.COMPLETED, output=output, finished_at=sa.func.now()
            )
            return Goto(state.following(next_after))
        if task.status in (TaskStatus.FAILED, TaskStatus.CANCELLED):
            state.transition(
                step.key, StepRunStatus.FAILED, error=task.error, finished_at=sa.func.now()
            )
            return Fail(f"step '{step.key}' ({step.agent}) {task.status.lower()}: {task.error}")
        return Wait()
    return Fail(f"step '{step.key}' is {status.value}")


def _create_step_task(state: Advance, step: AgentStep) -> uuid.UUID:
    return create_step_task(state, step.key, step.agent, render(step.input, state.context()))


def _approval_step(state: Advance, step: ApprovalStep) -> StepOutcome:
    run = state.step_run(step.key, "approval")
    status = StepRunStatus(run.status)
    if status in _FINISHED:
        return Goto(state.following(step.key))
    if status == StepRunStatus.PENDING:
        expires_at = None
        if step.expires_in_seconds:
            expires_at = state.connection.execute(
                sa.select(sa.func.now() + timedelta(seconds=step.expires_in_seconds))
            ).scalar_one()
        approval_id, _ = request_approval(
            state.connection,
            tenant_id=state.execution.tenant_id,
            kind=ApprovalKind.WORKFLOW_STEP,
            title=step.title,
            payload={"show": render(step.show, state.context()), "step": step.key},
            scope=state.scope,
            step_key=step.key,
            step_attempt=run.attempt,
            requested_by=f"workflow step {step.key}",
            required_role=step.required_role,
            quorum=step.quorum,
            rejections_needed=step.rejections_needed,
            expires_at=expires_at,
            policy={"on_reject": step.on_reject, "on_timeout": step.on_timeout},
        )
        state.transition(
            step.key,
            StepRunStatus.AWAITING_APPROVAL,
            approval_id=approval_id,
            started_at=sa.func.now(),
        )
        return Wait()
    if status != StepRunStatus.AWAITING_APPROVAL:
        return Fail(f"step '{step.key}' is {status.value}")
    approval = state.connection.execute(
        sa.select(Approval.status, Approval.decision_comment, Approval.policy).where(
            Approval.id == run.approval_id
        )
    ).one()
    decision = ApprovalStatus(approval.status)
    if decision == ApprovalStatus.PENDING:
        return Wait()
    tracing.link_to_parked(approval.policy, agentworker__workflow__step=step.key)
    output = {"decision": decision.value, "comment": approval.decision_comment}
    if decision == ApprovalStatus.APPROVED:
        state.transition(
            step.key, StepRunStatus.COMPLETED, output=output, finished_at=sa.func.now()
        )
        return Goto(state.following(step.key))
    if decision == ApprovalStatus.CANCELLED:
        state.transition(step.key, StepRunStatus.CANCELLED, output=output)
        return Fail(f"approval '{step.title}' was cancelled")
    policy = step.on_reject if decision == ApprovalStatus.REJECTED else step.on_timeout
    return _apply_policy(state, step, policy, output)


def _apply_policy(
    state: Advance, step: ApprovalStep, policy: str, output: dict[str, Any]
) -> Goto | Fail:
    """What a rejected or expired approval does: ``fail``, ``skip``, or ``goto:<step>``."""
    what = f"approval '{step.title}' {output['decision']}"
    if output.get("comment"):
        what += f" ({output['comment']})"
    if policy == "fail":
        state.transition(
            step.key,
            StepRunStatus.FAILED,
            output=output,
            error=what,
            finished_at=sa.func.now(),
        )
        return Fail(what)
    if policy == "skip":
        state.transition(step.key, StepRunStatus.SKIPPED, output=output, finished_at=sa.func.now())
        return Goto(state.following(step.key))
    state.transition(step.key, StepRunStatus.COMPLETED, output=output, finished_at=sa.func.now())
    return Goto(policy.removeprefix("goto:"))


def _parallel_step(state: Advance, step: ParallelStep) -> StepOutcome:
    run = state.step_run(step.key, "parallel")
    status = StepRunStatus(run.status)
    if status in _FINISHED:
        return Goto(state.following(step.key))
    if status == StepRunStatus.PENDING:
        state.transition(step.key, StepRunStatus.RUNNING, started_at=sa.func.now())
    outcomes = [_agent_step(state, branch, step.key) for branch in step.branches]
    failures = [o for o in outcomes if isinstance(o, Fail)]
    if failures:
        state.transition(
            step.key,
            StepRunStatus.FAILED,
            error=failures[0].reason,
            finished_at=sa.func.now(),
        )
        return failures[0]
    if any(isinstance(o, Wait) for o in outcomes):
        return Wait()
    joined = {b.key: state.step_runs[b.key].output for b in step.branches}
    state.transition(step.key, StepRunStatus.COMPLETED, output=joined, finished_at=sa.func.now())
    return Goto(state.following(step.key))


def _condition_step(state: Advance, step: ConditionStep) -> Goto:
    run = state.step_run(step.key, "condition")
    holds = condition_holds(step, state.context())
    if StepRunStatus(run.status) == StepRunStatus.PENDING:
        state.transition(step.key, StepRunStatus.RUNNING, started_at=sa.func.now())
        state.transition(
            step.key,
            StepRunStatus.COMPLETED,
            output={"result": holds},
            finished_at=sa.func.now(),
        )
    else:  # decided before: go the way it went then
        holds = bool((state.step_runs[step.key].output or {}).get("result"))
    target = step.then if holds else step.else_
    return Goto(target if target is not None else state.following(step.key))
