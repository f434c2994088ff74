"""Running one task: claim it, start or resume its agent run, drive the run, and map how the
drive ended to the task's outcome (DESIGN §5).

The claim and the run's start are one transaction (``worker.agents.run_start``); each step
after is one statement that also checks the lease (``worker.agents.turns``), so a cancelled or
reclaimed task stops at its next checkpoint. How a drive ends is written by
``worker.agents.endings``.
"""

from __future__ import annotations

import logging
import uuid
from contextlib import AbstractContextManager, nullcontext
from datetime import timedelta

import sqlalchemy as sa

from models import ErrorSeverity, Task, TaskStatus
from worker.agents.endings import abandon, defer, fail, release_freed_slot
from worker.agents.run_start import start_or_resume
from worker.agents.run_state import ActiveRun, AwaitingApproval, LostLease, Outcome
from worker.agents.runtime import Runtime
from worker.agents.turns import drive
from worker.core.errors import AgentWorkerError
from worker.core.log_context import log_context
from worker.durable import faults
from worker.durable.leases import ClaimedTask, GaveUp, claim_task, release_task
from worker.llm.gateway import LLMCallFailed, LLMDeferred

__all__ = ["Outcome", "execute_task"]

log = logging.getLogger(__name__)


def execute_task(runtime: Runtime, task_id: uuid.UUID) -> Outcome:
    """Claim task ``task_id`` and drive it until it ends, parks, or this worker loses it."""
    settings = runtime.settings
    claimed = _claim_and_start(runtime, task_id)
    if claimed is None:
        return Outcome(task_id, "skipped", "not due, already done, or held by a live worker")
    if isinstance(claimed, GaveUp):
        release_freed_slot(runtime, claimed.tenant_id)
        if claimed.workflow_execution_id is not None:
            runtime.wake_workflow(claimed.workflow_execution_id)
        log.warning("task %s: %s", task_id, claimed.reason)
        return Outcome(task_id, "failed", claimed.reason)
    task, started = claimed
    faults.fault_point(faults.AFTER_TASK_CLAIMED, settings.fault_point)
    execution = task.workflow_execution_id
    with (
        _holding(runtime, task.id),
        log_context(
            task_id=str(task.id),
            tenant_id=str(task.tenant_id),
            step=task.workflow_step,
            workflow_execution_id=str(execution) if execution else None,
            agent_run_id=str(started.state.id) if isinstance(started, ActiveRun) else None,
        ),
    ):
        outcome = _execute(runtime, task, started)
        log.info(
            "task %s: %s",
            outcome.status,
            outcome.detail[:300],
            extra={"outcome": outcome.status, "attempt": task.attempts},
        )
        return outcome


def _execute(runtime: Runtime, task: ClaimedTask, started: ActiveRun | Exception) -> Outcome:
    """Drive the started run (or fail with why it could not start); each way a drive can end
    becomes the task's outcome."""
    run: ActiveRun | None = None
    try:
        if isinstance(started, Exception):
            raise started
        run = started
        return drive(run)
    except LostLease:
        return abandon(runtime, task, run)
    except AwaitingApproval:
        release_freed_slot(runtime, task.tenant_id)  # a task waiting for a person holds none
        return Outcome(task.id, "awaiting_approval", "parked until an approver decides")
    except LLMDeferred as deferral:
        if _deferred_too_long(runtime, task):
            limit = runtime.settings.max_deferral_seconds
            error = AgentWorkerError(
                f"the provider kept asking to wait for more than {limit:g} s since the task "
                f"was submitted ({deferral}); check its rate limit and quota, or raise "
                "AGENTWORKER_MAX_DEFERRAL_SECONDS",
                code="rate_limited",
            )
            return fail(runtime, task, run, error, str(error))
        return defer(runtime, task, run, deferral)
    except (LLMCallFailed, AgentWorkerError) as error:
        return fail(runtime, task, run, error, str(error))
    except (sa.exc.OperationalError, sa.exc.InterfaceError):
        _hand_back(runtime, task)
        raise  # the database is unreachable: the task layer retries the message
    except Exception as error:
        log.exception("task %s failed unexpectedly", task.id)
        message = f"internal error: {type(error).__name__}: {error} (see ai_error_logs)"
        return fail(runtime, task, run, error, message, severity=ErrorSeverity.HIGH)


def _holding(runtime: Runtime, task_id: uuid.UUID) -> AbstractContextManager[None]:
    """The heartbeat keeps the task's lease alive while its run executes here."""
    return runtime.heartbeat.holding(task_id) if runtime.heartbeat else nullcontext()


def _deferred_too_long(runtime: Runtime, task: ClaimedTask) -> bool:
    """Deferrals hand the task back without using an attempt, so this bounds them: nothing
    waits on a provider for ever."""
    limit = timedelta(seconds=runtime.settings.max_deferral_seconds)
    with runtime.engine.connect() as connection:
        return bool(
            connection.execute(
                sa.select(Task.created_at < sa.func.now() - limit).where(Task.id == task.id)
            ).scalar()
        )


def _hand_back(runtime: Runtime, task: ClaimedTask) -> None:
    """After a database error, give the task back at once if the database answers again, so
    the retry need not wait for the lease to run out; if it does not, the lease runs out."""
    try:
        with runtime.engine.begin() as connection:
            release_task(connection, task.id, runtime.owner, TaskStatus.PENDING)
    except sa.exc.SQLAlchemyError:
        log.warning("task %s: database unreachable; its lease will run out", task.id)


def _claim_and_start(
    runtime: Runtime, task_id: uuid.UUID
) -> tuple[ClaimedTask, ActiveRun | Exception] | GaveUp | None:
    """The claim and the run's start, in one transaction; a start that fails for a reason
    of its own (an unknown agent) still commits the claim, so the task can fail."""
    with runtime.engine.begin() as connection:
        task = claim_task(connection, task_id, runtime.owner, runtime.settings.lease_seconds)
        if task is None or isinstance(task, GaveUp):
            return task
        try:
            return task, start_or_resume(runtime, task, connection)
        except sa.exc.SQLAlchemyError:
            raise  # the claim rolls back with it; the task layer retries the message
        except Exception as error:  # e.g. an unknown agent: the claim commits, the task fails
            return task, error
