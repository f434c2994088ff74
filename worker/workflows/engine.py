"""The workflow engine: a state machine in PostgreSQL, one Celery message per transition.

``advance`` is the only thing that moves an execution. It locks the execution row (a short
transaction: no model call happens inside it), looks at the current step, and moves as far as
it can: an agent step becomes a task of its own (published after commit); an approval step
creates the approval and returns, holding no worker; a parallel step starts every branch and
joins when the last one ends; a condition picks the next step. Each step's state is a row in
``ai_workflow_step_runs`` (unique per execution and step) moved by guarded transitions, so a
message delivered twice, or two branches ending at once, moves the execution exactly once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from models import (
    AIWorkflowExecution,
    AIWorkflowStepRun,
    AIWorkflowVersion,
    Approval,
    ApprovalKind,
    ApprovalStatus,
    EventType,
    ExecutionStatus,
    StepRunStatus,
    Task,
    TaskStatus,
)
from worker.agents.definitions import find_agent
from worker.approvals.service import cancel_pending, request_approval
from worker.core.contract import RUN_TASK
from worker.core.errors import AgentWorkerError
from worker.durable import records
from worker.durable.publishing import Publisher, Wake
from worker.durable.states import EXECUTION, STEP_RUN, TASK
from worker.workflows.definition import (
    AgentStep,
    ApprovalStep,
    ConditionStep,
    ParallelStep,
    WorkflowDefinition,
    condition_holds,
    parse_definition,
    render,
)

_executions = AIWorkflowExecution.__table__
_step_runs = AIWorkflowStepRun.__table__
_tasks = Task.__table__
_FINISHED = {StepRunStatus.COMPLETED, StepRunStatus.SKIPPED}
_MAX_TRANSITIONS_PER_ADVANCE = 200


class ExecutionNotFound(AgentWorkerError):
    code = "execution_not_found"


# -- advancing --------------------------------------------------------------------------------


@dataclass
class _Advance:
    connection: sa.Connection
    execution: sa.Row[Any]
    definition: WorkflowDefinition
    scope: records.Scope
    wakes: list[Wake] = field(default_factory=list)
    step_runs: dict[str, sa.Row[Any]] = field(default_factory=dict)

    def context(self) -> dict[str, Any]:
        return {
            "input": self.execution.input_data,
            "execution": {"id": str(self.execution.id)},
            "steps": {
                key: {"output": run.output, "status": str(run.status)}
                for key, run in self.step_runs.items()
            },
        }


class _Wait:
    pass


@dataclass(frozen=True)
class _Goto:
    key: str | None  # None: the workflow is finished


@dataclass(frozen=True)
class _Fail:
    reason: str


def advance(engine: sa.Engine, publisher: Publisher, execution_id: uuid.UUID) -> str:
    """Move the execution as far as it can go now; returns its status afterwards."""
    with engine.begin() as connection:
        execution = connection.execute(
            sa.select(_executions, AIWorkflowVersion.steps.label("steps"))
            .join(AIWorkflowVersion, AIWorkflowVersion.id == _executions.c.workflow_version_id)
            .where(_executions.c.id == execution_id)
            .with_for_update(of=_executions)
        ).one_or_none()
        if execution is None:
            raise ExecutionNotFound(f"no workflow execution {execution_id}")
        status = ExecutionStatus(execution.status)
        if status in EXECUTION.terminal:
            return status.value
        state = _Advance(
            connection,
            execution,
            parse_definition(execution.steps),
            records.Scope(execution.tenant_id, workflow_execution_id=execution.id),
        )
        state.step_runs = {
            row.step_key: row
            for row in connection.execute(
                sa.select(_step_runs).where(_step_runs.c.execution_id == execution.id)
            )
        }
        status = _run(state, status)
    for wake in state.wakes:
        wake.send(publisher)
    return status.value


def _run(state: _Advance, status: ExecutionStatus) -> ExecutionStatus:
    connection, execution = state.connection, state.execution
    current = execution.current_step
    for _ in range(_MAX_TRANSITIONS_PER_ADVANCE):
        if current is None:
            return _finish(state, status)
        step = state.definition.steps[state.definition.index(current)]
        outcome = _step(state, step)
        if isinstance(outcome, _Wait):
            waiting = _is_awaiting_approval(state, step)
            target = ExecutionStatus.AWAITING_APPROVAL if waiting else ExecutionStatus.RUNNING
            return _move(state, status, target, current)
        if isinstance(outcome, _Fail):
            return _fail(state, status, outcome.reason)
        if outcome.key is not None and outcome.key != current:
            records.write(
                connection,
                events=[
                    records.event(
                        state.scope,
                        EventType.STATE_CHANGE,
                        f"next step: {outcome.key}",
                        {"from": current, "to": outcome.key},
                    )
                ],
            )
        current = outcome.key
        status = _move(state, status, ExecutionStatus.RUNNING, current)
    return _fail(state, status, "the workflow made 200 transitions in one go; is it a loop?")


def _move(
    state: _Advance, status: ExecutionStatus, target: ExecutionStatus, current: str | None
) -> ExecutionStatus:
    values = {"current_step": current, "step_states": _step_states(state)}
    if status == target:
        state.connection.execute(
            sa.update(_executions).where(_executions.c.id == state.execution.id).values(values)
        )
        return status
    EXECUTION.apply_or_raise(state.connection, state.execution.id, target, values=values)
    records.write(
        state.connection,
        events=[
            records.event(
                state.scope,
                EventType.STATE_CHANGE,
                f"execution {target.value}",
                {"from": status.value, "to": target.value, "step": current},
            )
        ],
    )
    return target


def _step_states(state: _Advance) -> dict[str, Any]:
    return {
        key: {"status": str(run.status), "output": run.output}
        for key, run in state.step_runs.items()
    }


def _finish(state: _Advance, status: ExecutionStatus) -> ExecutionStatus:
    outputs = {
        key: run.output
        for key, run in state.step_runs.items()
        if run.status == StepRunStatus.COMPLETED
    }
    if status != ExecutionStatus.RUNNING:
        status = _move(state, status, ExecutionStatus.RUNNING, None)
    EXECUTION.apply_or_raise(
        state.connection,
        state.execution.id,
        ExecutionStatus.COMPLETED,
        values={
            "current_step": None,
            "completed_at": sa.func.now(),
            "output_data": {"steps": outputs},
            "step_states": _step_states(state),
        },
    )
    records.write(
        state.connection,
        events=[
            records.event(
                state.scope, EventType.RESULT, "workflow completed", {"steps": list(outputs)}
            )
        ],
    )
    return ExecutionStatus.COMPLETED


def _fail(state: _Advance, status: ExecutionStatus, reason: str) -> ExecutionStatus:
    EXECUTION.apply_or_raise(
        state.connection,
        state.execution.id,
        ExecutionStatus.FAILED,
        values={
            "completed_at": sa.func.now(),
            "error_log": {"error": reason},
            "step_states": _step_states(state),
        },
    )
    cancel_pending(
        state.connection, execution_id=state.execution.id, reason=f"workflow failed: {reason}"
    )
    records.write(
        state.connection,
        events=[
            records.event(
                state.scope, EventType.ERROR, f"workflow failed: {reason}", {"from": status.value}
            )
        ],
    )
    return ExecutionStatus.FAILED


# -- steps ------------------------------------------------------------------------------------


def _following(state: _Advance, key: str) -> str | None:
    steps = state.definition.steps
    position = state.definition.index(key)
    return steps[position + 1].key if position + 1 < len(steps) else None


def _step_run(state: _Advance, key: str, kind: str) -> sa.Row[Any]:
    run = state.step_runs.get(key)
    if run is None:
        run = state.connection.execute(
            pg_insert(_step_runs)
            .values(
                tenant_id=state.execution.tenant_id,
                execution_id=state.execution.id,
                step_key=key,
                step_kind=kind,
                status=StepRunStatus.PENDING,
            )
            .on_conflict_do_nothing(index_elements=["execution_id", "step_key"])
            .returning(*_step_runs.c)
        ).one()
        state.step_runs[key] = run
    return run


def _transition(state: _Advance, key: str, target: StepRunStatus, **values: Any) -> None:
    run = state.step_runs[key]
    moved = STEP_RUN.apply(
        state.connection, run.id, target, values=values, returning=list(_step_runs.c)
    )
    if moved is not None:
        state.step_runs[key] = moved
        records.write(
            state.connection,
            events=[
                records.event(
                    state.scope,
                    EventType.STATE_CHANGE,
                    f"step {key}: {target.value}",
                    {"step": key, "from": str(run.status), "to": target.value},
                )
            ],
        )


def _step(state: _Advance, step: Any) -> _Wait | _Goto | _Fail:
    if isinstance(step, AgentStep):
        return _agent_step(state, step, step.key)
    if isinstance(step, ApprovalStep):
        return _approval_step(state, step)
    if isinstance(step, ParallelStep):
        return _parallel_step(state, step)
    if isinstance(step, ConditionStep):
        return _condition_step(state, step)
    raise AgentWorkerError(f"unknown step kind in {step!r}")


def _agent_step(state: _Advance, step: AgentStep, next_after: str) -> _Wait | _Goto | _Fail:
    run = _step_run(state, step.key, "agent")
    status = StepRunStatus(run.status)
    if status in _FINISHED:
        return _Goto(_following(state, next_after))
    if status == StepRunStatus.PENDING:
        task_id = _create_step_task(state, step)
        _transition(
            state,
            step.key,
            StepRunStatus.RUNNING,
            task_id=task_id,
            started_at=sa.func.now(),
            attempts=_step_runs.c.attempts + 1,
            input={"input": render(step.input, state.context())},
        )
        return _Wait()
    if status == StepRunStatus.RUNNING:
        task = state.connection.execute(
            sa.select(_tasks.c.status, _tasks.c.result, _tasks.c.error).where(
                _tasks.c.id == run.task_id
            )
        ).one()
        if task.status == TaskStatus.SUCCEEDED:
            output = (task.result or {}).get("output")
            _transition(
                state, step.key, StepRunStatus.COMPLETED, output=output, finished_at=sa.func.now()
            )
            return _Goto(_following(state, next_after))
        if task.status in (TaskStatus.FAILED, TaskStatus.CANCELLED):
            _transition(
                state, step.key, StepRunStatus.FAILED, error=task.error, finished_at=sa.func.now()
            )
            return _Fail(f"step '{step.key}' ({step.agent}) {task.status.lower()}: {task.error}")
        return _Wait()
    return _Fail(f"step '{step.key}' is {status.value}")


def _create_step_task(state: _Advance, step: AgentStep) -> uuid.UUID:
    execution = state.execution
    agent = find_agent(state.connection, execution.tenant_id, step.agent)
    value = render(step.input, state.context())
    text = value if isinstance(value, str) else None
    task_id = state.connection.execute(
        pg_insert(_tasks)
        .values(
            tenant_id=execution.tenant_id,
            agent_id=agent.id,
            agent_name=agent.name,
            title=f"{step.key} ({step.agent})",
            input_prompt=text,
            input_payload={"input": value},
            workflow_execution_id=execution.id,
            workflow_step=step.key,
            idempotency_key=f"workflow:{execution.id}:{step.key}",
            queue="agents",
        )
        .on_conflict_do_nothing(index_elements=["tenant_id", "idempotency_key"])
        .returning(_tasks.c.id)
    ).scalar_one_or_none()
    if task_id is None:
        task_id = state.connection.execute(
            sa.select(_tasks.c.id).where(
                _tasks.c.tenant_id == execution.tenant_id,
                _tasks.c.idempotency_key == f"workflow:{execution.id}:{step.key}",
            )
        ).scalar_one()
    state.wakes.append(Wake(RUN_TASK, {"task_id": str(task_id)}))
    return task_id


def _approval_step(state: _Advance, step: ApprovalStep) -> _Wait | _Goto | _Fail:
    run = _step_run(state, step.key, "approval")
    status = StepRunStatus(run.status)
    if status in _FINISHED:
        return _Goto(_following(state, step.key))
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
            requested_by=f"workflow step {step.key}",
            required_role=step.required_role,
            expires_at=expires_at,
            policy={"on_reject": step.on_reject, "on_timeout": step.on_timeout},
        )
        _transition(
            state,
            step.key,
            StepRunStatus.AWAITING_APPROVAL,
            approval_id=approval_id,
            started_at=sa.func.now(),
        )
        return _Wait()
    if status != StepRunStatus.AWAITING_APPROVAL:
        return _Fail(f"step '{step.key}' is {status.value}")
    approval = state.connection.execute(
        sa.select(Approval.status, Approval.decision_comment).where(Approval.id == run.approval_id)
    ).one()
    decision = ApprovalStatus(approval.status)
    if decision == ApprovalStatus.PENDING:
        return _Wait()
    output = {"decision": decision.value, "comment": approval.decision_comment}
    if decision == ApprovalStatus.APPROVED:
        _transition(
            state, step.key, StepRunStatus.COMPLETED, output=output, finished_at=sa.func.now()
        )
        return _Goto(_following(state, step.key))
    if decision == ApprovalStatus.CANCELLED:
        _transition(state, step.key, StepRunStatus.CANCELLED, output=output)
        return _Fail(f"approval '{step.title}' was cancelled")
    policy = step.on_reject if decision == ApprovalStatus.REJECTED else step.on_timeout
    return _apply_policy(state, step, policy, output)


def _apply_policy(
    state: _Advance, step: ApprovalStep, policy: str, output: dict[str, Any]
) -> _Goto | _Fail:
    what = f"approval '{step.title}' {output['decision']}"
    if output.get("comment"):
        what += f" ({output['comment']})"
    if policy == "fail":
        _transition(
            state,
            step.key,
            StepRunStatus.FAILED,
            output=output,
            error=what,
            finished_at=sa.func.now(),
        )
        return _Fail(what)
    if policy == "skip":
        _transition(
            state, step.key, StepRunStatus.SKIPPED, output=output, finished_at=sa.func.now()
        )
        return _Goto(_following(state, step.key))
    _transition(state, step.key, StepRunStatus.COMPLETED, output=output, finished_at=sa.func.now())
    return _Goto(policy.removeprefix("goto:"))


def _parallel_step(state: _Advance, step: ParallelStep) -> _Wait | _Goto | _Fail:
    run = _step_run(state, step.key, "parallel")
    status = StepRunStatus(run.status)
    if status in _FINISHED:
        return _Goto(_following(state, step.key))
    if status == StepRunStatus.PENDING:
        _transition(state, step.key, StepRunStatus.RUNNING, started_at=sa.func.now())
    outcomes = [_agent_step(state, branch, step.key) for branch in step.branches]
    failures = [o for o in outcomes if isinstance(o, _Fail)]
    if failures:
        _transition(
            state,
            step.key,
            StepRunStatus.FAILED,
            error=failures[0].reason,
            finished_at=sa.func.now(),
        )
        return failures[0]
    if any(isinstance(o, _Wait) for o in outcomes):
        return _Wait()
    joined = {b.key: state.step_runs[b.key].output for b in step.branches}
    _transition(state, step.key, StepRunStatus.COMPLETED, output=joined, finished_at=sa.func.now())
    return _Goto(_following(state, step.key))


def _condition_step(state: _Advance, step: ConditionStep) -> _Goto:
    run = _step_run(state, step.key, "condition")
    holds = condition_holds(step, state.context())
    if StepRunStatus(run.status) == StepRunStatus.PENDING:
        _transition(state, step.key, StepRunStatus.RUNNING, started_at=sa.func.now())
        _transition(
            state,
            step.key,
            StepRunStatus.COMPLETED,
            output={"result": holds},
            finished_at=sa.func.now(),
        )
    else:
        holds = bool((state.step_runs[step.key].output or {}).get("result"))
    target = step.then if holds else step.else_
    return _Goto(target if target is not None else _following(state, step.key))


def _is_awaiting_approval(state: _Advance, step: Any) -> bool:
    run = state.step_runs.get(step.key)
    return run is not None and run.status == StepRunStatus.AWAITING_APPROVAL


# -- cancelling -------------------------------------------------------------------------------


def cancel_execution(engine: sa.Engine, execution_id: uuid.UUID, *, reason: str) -> bool:
    """Cancel the execution, its pending approvals and its unfinished step tasks; running
    steps stop at their next checkpoint. False if it had already ended."""
    with engine.begin() as connection:
        moved = EXECUTION.apply(
            connection,
            execution_id,
            ExecutionStatus.CANCELLED,
            values={"completed_at": sa.func.now(), "error_log": {"cancelled": reason}},
            returning=[_executions.c.tenant_id],
        )
        if moved is None:
            exists = connection.execute(
                sa.select(_executions.c.id).where(_executions.c.id == execution_id)
            ).scalar_one_or_none()
            if exists is None:
                raise ExecutionNotFound(f"no workflow execution {execution_id}")
            return False
        cancel_pending(connection, execution_id=execution_id, reason=reason)
        unfinished = connection.scalars(
            sa.select(_tasks.c.id).where(
                _tasks.c.workflow_execution_id == execution_id,
                _tasks.c.status.in_(
                    [TaskStatus.PENDING, TaskStatus.RUNNING, TaskStatus.AWAITING_APPROVAL]
                ),
            )
        ).all()
        for task_id in unfinished:
            TASK.apply(
                connection,
                task_id,
                TaskStatus.CANCELLED,
                values={"finished_at": sa.func.now(), "error": reason},
            )
        connection.execute(
            sa.update(_step_runs)
            .where(
                _step_runs.c.execution_id == execution_id,
                _step_runs.c.status.in_(
                    [StepRunStatus.PENDING, StepRunStatus.RUNNING, StepRunStatus.AWAITING_APPROVAL]
                ),
            )
            .values(status=StepRunStatus.CANCELLED, finished_at=sa.func.now())
        )
        records.write(
            connection,
            events=[
                records.event(
                    records.Scope(moved.tenant_id, workflow_execution_id=execution_id),
                    EventType.STATE_CHANGE,
                    f"execution cancelled: {reason}",
                    {"to": "cancelled"},
                )
            ],
        )
    return True


__all__ = ["ExecutionNotFound", "advance", "cancel_execution"]
