"""Forking a workflow execution: re-run it from a step with the earlier steps' outputs
(issue 16).

A workflow's steps are numbered from 1 in the order its pinned definition lists them (the
top-level steps; a parallel step's branches belong to it), and ``--at`` takes that number or
the step's key. A fork at step K is a new execution of the same pinned version and input
(``parent_execution_id``, ``forked_at_step`` = K's key) that starts at K: every step before K
that the parent finished (completed or skipped, branches included) is copied with its output
as the new execution's own step run, so it is not run again and its output is what later
steps' templates read (``{{ steps.KEY.output }}``); K and what follows run. The parent is only
read.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from models import (
    AIWorkflowExecution,
    AIWorkflowStepRun,
    AIWorkflowVersion,
    EventType,
    ExecutionStatus,
    StepRunStatus,
)
from worker.core.errors import AgentWorkerError
from worker.durable import records
from worker.workflows.definition import parse_definition

__all__ = ["ExecutionFork", "ForkedExecution", "fork_execution"]

_executions = AIWorkflowExecution.__table__
_step_runs = AIWorkflowStepRun.__table__
_ENDED = {ExecutionStatus.COMPLETED, ExecutionStatus.FAILED, ExecutionStatus.CANCELLED}
_FINISHED = {StepRunStatus.COMPLETED, StepRunStatus.SKIPPED}


class ExecutionFork(AgentWorkerError):
    """The fork asked for cannot be made; the message says what to do."""

    code = "cannot_fork"


@dataclass(frozen=True)
class ForkedExecution:
    execution_id: uuid.UUID
    parent_execution_id: uuid.UUID
    at_step: str
    at_number: int
    copied: tuple[str, ...]


def fork_execution(
    connection: sa.Connection, tenant_id: uuid.UUID, execution_id: uuid.UUID, at: str
) -> ForkedExecution:
    """Create the fork of execution ``execution_id`` at step ``at`` (a number from 1 or a key),
    in the caller's transaction; the caller publishes ``workflows.advance`` after its commit."""
    parent = connection.execute(
        sa.select(_executions, AIWorkflowVersion.steps.label("steps"))
        .join(AIWorkflowVersion, AIWorkflowVersion.id == _executions.c.workflow_version_id)
        .where(_executions.c.id == execution_id, _executions.c.tenant_id == tenant_id)
    ).one_or_none()
    if parent is None:
        raise ExecutionFork(
            f"no workflow execution {execution_id} for this tenant; "
            "`agentworker workflows status EXECUTION --tenant T` shows one",
            code="execution_not_found",
        )
    status = ExecutionStatus(parent.status)
    if status not in _ENDED:
        raise ExecutionFork(
            f"execution {execution_id} is still {status.value}; fork it once it has ended, or "
            f"cancel it first (`agentworker cancel {execution_id} --tenant T`)",
            code="execution_in_progress",
        )
    steps = parse_definition(parent.steps).steps
    keys = [step.key for step in steps]
    position = _position(at, keys, execution_id)
    runs = _latest_runs(connection, execution_id)
    target = keys[position]
    if target not in runs:
        reached = [key for key in keys if key in runs]
        raise ExecutionFork(
            f"execution {execution_id} never reached step {position + 1} ('{target}'), so "
            f"there is nothing to fork from there; it reached: {', '.join(reached) or 'none'}",
            code="step_out_of_range",
        )
    before = [
        key
        for step in steps[:position]
        for key in (step.key, *(b.key for b in getattr(step, "branches", ())))
    ]
    copied = [key for key in before if key in runs and runs[key].status in _FINISHED]
    fork_id = connection.execute(
        sa.insert(_executions)
        .values(
            tenant_id=tenant_id,
            workflow_id=parent.workflow_id,
            workflow_version_id=parent.workflow_version_id,
            workflow_version=parent.workflow_version,
            event_id=parent.event_id,
            status=ExecutionStatus.PENDING,
            input_data=parent.input_data,
            current_step=target,
            step_states={
                key: {"status": str(runs[key].status), "output": runs[key].output} for key in copied
            },
            parent_execution_id=execution_id,
            forked_at_step=target,
        )
        .returning(_executions.c.id)
    ).scalar_one()
    if copied:
        connection.execute(
            sa.insert(_step_runs),
            [_copy(runs[key], tenant_id, fork_id) for key in copied],
        )
    records.write(
        connection,
        events=[
            records.event(
                records.Scope(tenant_id, workflow_execution_id=fork_id),
                EventType.STATE_CHANGE,
                f"forked from execution {execution_id} at step {position + 1} ('{target}'); "
                f"copied: {', '.join(copied) or 'nothing'}",
                {
                    "parent_execution_id": str(execution_id),
                    "at_step": target,
                    "copied": copied,
                    "status": "pending",
                },
            )
        ],
    )
    return ForkedExecution(fork_id, execution_id, target, position + 1, tuple(copied))


def _position(at: str, keys: list[str], execution_id: uuid.UUID) -> int:
    numbered = ", ".join(f"{n} {key}" for n, key in enumerate(keys, 1))
    if at.strip().isdigit():
        number = int(at)
        if 1 <= number <= len(keys):
            return number - 1
        raise ExecutionFork(
            f"execution {execution_id}'s workflow has steps 1 to {len(keys)} ({numbered}); "
            f"step {number} is out of range",
            code="step_out_of_range",
        )
    if at in keys:
        return keys.index(at)
    raise ExecutionFork(
        f"no step '{at}' in execution {execution_id}'s workflow; give a step's number or key: "
        f"{numbered}",
        code="step_out_of_range",
    )


def _latest_runs(connection: sa.Connection, execution_id: uuid.UUID) -> dict[str, Any]:
    rows = connection.execute(
        sa.select(_step_runs)
        .where(_step_runs.c.execution_id == execution_id)
        .order_by(_step_runs.c.attempt)
    ).all()
    return {row.step_key: row for row in rows}


def _copy(run: Any, tenant_id: uuid.UUID, execution_id: uuid.UUID) -> dict[str, Any]:
    return {
        "tenant_id": tenant_id,
        "execution_id": execution_id,
        "step_key": run.step_key,
        "step_kind": run.step_kind,
        "attempt": 1,
        "status": run.status,
        "attempts": run.attempts,
        "input": run.input,
        "output": run.output,
        "error": run.error,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
    }
