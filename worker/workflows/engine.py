"""The workflow engine: a state machine in PostgreSQL, one Celery message per transition.

``advance`` is the only thing that moves an execution. It locks the execution row (a short
transaction: no model call happens inside it), looks at the current step, and moves as far as
it can (the step kinds are in ``worker.workflows.steps``): an agent step becomes a task of its
own (published after commit); an approval step creates the approval and returns, holding no
worker; a parallel step starts every branch and joins when the last one ends; a condition
picks the next step. Each step's state is a row in ``ai_workflow_step_runs`` (unique per
execution and step) moved by guarded transitions, so a message delivered twice, or two
branches ending at once, moves the execution exactly once.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from models import (
    AIWorkflowExecution,
    AIWorkflowStepRun,
    AIWorkflowVersion,
    EventType,
    ExecutionStatus,
    StepRunStatus,
)
from worker.core import tracing
from worker.durable import faults, records
from worker.durable.publishing import Publisher
from worker.durable.states import EXECUTION
from worker.workflows.advancing import Advance, Fail, Wait
from worker.workflows.cancellation import stop_work
from worker.workflows.catalog import ExecutionNotFound
from worker.workflows.definition import parse_definition
from worker.workflows.steps import run_step

_executions = AIWorkflowExecution.__table__
_step_runs = AIWorkflowStepRun.__table__
_MAX_TRANSITIONS_PER_ADVANCE = 200


def advance(engine: sa.Engine, publisher: Publisher, execution_id: uuid.UUID) -> str:
    """Move the execution as far as it can go now; returns its status afterwards."""
    with tracing.workflow_advance(execution_id):
        return _advance(engine, publisher, execution_id)


def _advance(engine: sa.Engine, publisher: Publisher, execution_id: uuid.UUID) -> str:
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
        state = Advance(
            connection,
            execution,
            parse_definition(execution.steps),
            records.Scope(execution.tenant_id, workflow_execution_id=execution.id),
        )
        state.load_step_runs()
        status = _run(state, status)
    faults.fault_point(faults.AFTER_ADVANCE_COMMITTED)
    for wake in state.wakes:
        wake.send(publisher)
    return status.value


def _run(state: Advance, status: ExecutionStatus) -> ExecutionStatus:
    connection, execution = state.connection, state.execution
    current = execution.current_step
    for _ in range(_MAX_TRANSITIONS_PER_ADVANCE):
        if current is None:
            return _finish(state, status)
        step = state.definition.steps[state.definition.index(current)]
        outcome = run_step(state, step)
        if isinstance(outcome, Wait):
            waiting = state.awaiting_approval(step.key)
            target = ExecutionStatus.AWAITING_APPROVAL if waiting else ExecutionStatus.RUNNING
            return _move(state, status, target, current)
        if isinstance(outcome, Fail):
            return _fail(state, status, outcome.reason)
        if outcome.key is not None and _is_back(state, outcome.key, current):
            failure = state.start_again(outcome.key, current)
            if failure is not None:
                return _fail(state, status, failure)
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


def _is_back(state: Advance, target: str, current: str) -> bool:
    """A jump to ``current`` itself or to a step before it."""
    return state.definition.index(target) <= state.definition.index(current)


def _move(
    state: Advance, status: ExecutionStatus, target: ExecutionStatus, current: str | None
) -> ExecutionStatus:
    values = {"current_step": current, "step_states": state.step_states()}
    if status == target:  # the status stays: only where it is and what its steps hold change
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


def _finish(state: Advance, status: ExecutionStatus) -> ExecutionStatus:
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
            "step_states": state.step_states(),
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


def _fail(state: Advance, status: ExecutionStatus, reason: str) -> ExecutionStatus:
    EXECUTION.apply_or_raise(
        state.connection,
        state.execution.id,
        ExecutionStatus.FAILED,
        values={
            "completed_at": sa.func.now(),
            "error_log": {"error": reason},
            "step_states": state.step_states(),
        },
    )
    stop_work(state.connection, state.execution.id, f"workflow failed: {reason}")
    records.write(
        state.connection,
        events=[
            records.event(
                state.scope, EventType.ERROR, f"workflow failed: {reason}", {"from": status.value}
            )
        ],
    )
    return ExecutionStatus.FAILED
