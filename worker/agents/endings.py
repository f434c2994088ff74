"""How a drive of a task ends: succeeded, failed, deferred, or abandoned, each written in one
transaction with the task's lease check, and then the workflow it belongs to is woken.

- ``succeed``: the final answer and the task's success are one journal statement.
- ``fail``: the task and its run end FAILED, with the error in ai_error_logs.
- ``defer``: the provider asked us to wait; the task goes back to PENDING with a countdown and
  is re-published, so no worker slot is held meanwhile.
- ``abandon``: the lease was lost (cancelled, or another worker owns the task); stop quietly.

An ending that frees the task's slot in its tenant's window (all but ``defer``) releases the
tenant's next held tasks (``worker.durable.dispatch``) and publishes them after the commit:
in the ending's transaction, or, for a success (one autocommitted statement), in one of its
own right after it. A tenant with nothing held takes no lock. A crash in between is the
reaper's to mend (it fills every tenant's window each beat).
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from models import AgentRunStatus, ErrorSeverity, EventType, Task, TaskStatus
from worker.agents.checkpoints import autocommit
from worker.agents.loop import summarize
from worker.agents.run_state import ActiveRun, LostLease, Outcome
from worker.agents.runtime import Runtime
from worker.core.contract import RUN_TASK
from worker.core.errors import AgentWorkerError
from worker.durable import dispatch, journal, records
from worker.durable.leases import ClaimedTask, release_task
from worker.durable.states import AGENT_RUN
from worker.llm.gateway import LLMDeferred

_tasks = Task.__table__


def succeed(run: ActiveRun, output: Any, reply: journal.Step | None = None) -> Outcome:
    """End the task SUCCEEDED, writing the model's final ``reply`` with it (None when the
    answer was persisted before, by an attempt that stopped right after)."""
    runtime, task = run.runtime, run.task
    summary = summarize(output)
    last = reply or journal.Step([])
    llm_calls = run.state.llm_calls + last.llm_calls
    last.metrics = [*run.pending_metrics, *last.metrics]
    last.events = [
        *last.events,
        records.event(run.scope, EventType.RESULT, summary, {"output": output}),
        records.event(
            run.scope,
            EventType.AGENT_COMPLETE,
            f"agent '{run.agent.name}' done",
            {"llm_calls": llm_calls},
        ),
    ]

    def finish(connection: sa.Connection) -> journal.Finished | None:
        return journal.finish(
            connection,
            task_id=task.id,
            owner=runtime.owner,
            run_id=run.state.id,
            model=run.state.model,
            step=last,
            output=output,
            summary=summary,
        )

    if task.tenant_id in runtime.tenants_holding:
        # The tenant had held tasks at its last finish here: end this one and release one in
        # its place in one transaction (no lock: worker.durable.dispatch.release_in_place_of).
        with runtime.engine.begin() as connection:
            finished = finish(connection)
            releases = _release_next(runtime, connection, task) if finished else []
        held = bool(releases)
    else:
        # The common case: the finish is one statement on its own, and says whether the
        # tenant has held tasks; if so they are released in a transaction of their own, under
        # the tenant's lock (a crash in between: the reaper fills the window).
        with autocommit(runtime) as connection:
            finished = finish(connection)
        held = finished is not None and finished.held
        releases = _release_after_commit(runtime, task) if held else []
    if finished is None:
        raise LostLease()
    if held:
        runtime.tenants_holding.add(task.tenant_id)
    else:
        runtime.tenants_holding.discard(task.tenant_id)
    run.pending_metrics = []
    run.state.llm_calls = llm_calls
    _publish_releases(runtime, releases)
    _wake_workflow(runtime, task)
    return Outcome(task.id, "succeeded", summary)


def fail(
    runtime: Runtime,
    task: ClaimedTask,
    run: ActiveRun | None,
    error: BaseException,
    message: str,
    *,
    severity: ErrorSeverity = ErrorSeverity.MEDIUM,
) -> Outcome:
    """End the task FAILED with ``message`` (and its run, if it started)."""
    scope = (
        run.scope
        if run is not None
        else records.Scope(tenant_id=task.tenant_id, task_id=task.id, agent_name=task.agent_name)
    )
    code = getattr(error, "code", "error")
    with runtime.engine.begin() as connection:
        released = release_task(
            connection,
            task.id,
            runtime.owner,
            TaskStatus.FAILED,
            error=records.scrub_text(message),
            error_code=code,
            finished_at=sa.func.now(),
        )
        if not released:
            outcome, releases = _abandon_in(runtime, connection, task, run)
        else:
            _record_failure(connection, scope, run, error, message, code, severity)
            outcome, releases = None, _release_next(runtime, connection, task)
    _publish_releases(runtime, releases)
    if outcome is not None:
        return outcome
    _wake_workflow(runtime, task)
    return Outcome(task.id, "failed", message)


def _record_failure(
    connection: sa.Connection,
    scope: records.Scope,
    run: ActiveRun | None,
    error: BaseException,
    message: str,
    code: str,
    severity: ErrorSeverity,
) -> None:
    if run is not None:
        AGENT_RUN.apply(
            connection,
            run.state.id,
            AgentRunStatus.FAILED,
            values={"error": records.scrub_text(message), "finished_at": sa.func.now()},
        )
    records.write(
        connection,
        metrics=run.pending_metrics if run is not None else [],
        events=[
            records.event(scope, EventType.ERROR, message, {**_figures_of(error), "code": code})
        ],
        errors=[
            records.error_log(
                scope,
                error_type=f"task.{code}",
                message=message,
                severity=severity,
                error=error,
            )
        ],
    )


def _figures_of(error: BaseException) -> dict[str, Any]:
    """What an error carries for its event besides the message (a budget's figures)."""
    details = getattr(error, "details", None)
    return details if isinstance(error, AgentWorkerError) and isinstance(details, dict) else {}


def defer(
    runtime: Runtime, task: ClaimedTask, run: ActiveRun | None, deferral: LLMDeferred
) -> Outcome:
    """Release the task until the provider's retry-after has passed, and re-publish it then."""
    countdown = deferral.countdown
    scope = run.scope if run is not None else records.Scope(task.tenant_id, task.id)
    with runtime.engine.begin() as connection:
        released = release_task(
            connection,
            task.id,
            runtime.owner,
            TaskStatus.PENDING,
            not_before=sa.func.now() + timedelta(seconds=countdown),
        )
        if not released:
            outcome, releases = _abandon_in(runtime, connection, task, run)
        else:
            outcome, releases = None, []
            if run is not None:
                AGENT_RUN.apply(connection, run.state.id, AgentRunStatus.STARTED)
            records.write(
                connection,
                metrics=run.pending_metrics if run else [],
                events=[
                    records.event(
                        scope,
                        EventType.SYSTEM,
                        f"waiting {countdown:g}s before the next LLM call ({deferral}); "
                        "the worker slot is released meanwhile",
                        {"countdown": countdown, "reason": "retry_after"},
                    ),
                ],
            )
    if outcome is not None:
        _publish_releases(runtime, releases)
        return outcome
    runtime.publisher.publish(
        RUN_TASK, {"task_id": str(task.id)}, countdown=countdown, priority=task.priority
    )
    return Outcome(task.id, "deferred", f"re-published with a {countdown:g}s countdown")


def abandon(runtime: Runtime, task: ClaimedTask, run: ActiveRun | None) -> Outcome:
    """Stop quietly: the task was cancelled or another worker owns it now."""
    with runtime.engine.begin() as connection:
        outcome, releases = _abandon_in(runtime, connection, task, run)
    _publish_releases(runtime, releases)
    return outcome


def _abandon_in(
    runtime: Runtime, connection: sa.Connection, task: ClaimedTask, run: ActiveRun | None
) -> tuple[Outcome, list[dispatch.Release]]:
    """``abandon`` inside the caller's transaction; a cancelled task's run ends CANCELLED.
    A cancelled task's slot is free: the tenant's next held tasks are released (to publish
    after the commit); if another worker owns it, the window has no room and none is."""
    status = connection.execute(
        sa.select(_tasks.c.status).where(_tasks.c.id == task.id)
    ).scalar_one_or_none()
    if status == TaskStatus.CANCELLED and run is not None:
        AGENT_RUN.apply(
            connection,
            run.state.id,
            AgentRunStatus.CANCELLED,
            values={"finished_at": sa.func.now()},
        )
        records.write(
            connection,
            events=[records.event(run.scope, EventType.SYSTEM, "stopped: the task was cancelled")],
        )
    # Whoever cancelled the task freed its slot in a transaction already committed: the
    # tenant's lock keeps a concurrent admission from giving the same slot away.
    releases = dispatch.release_freed(
        connection, task.tenant_id, runtime.settings.tenant_max_in_flight
    )
    return Outcome(task.id, "abandoned", f"task is {status}; this worker stopped"), releases


def _release_next(
    runtime: Runtime, connection: sa.Connection, task: ClaimedTask
) -> list[dispatch.Release]:
    """In the ending's transaction, which frees the task's slot: one held task in its place,
    without the tenant's lock (nothing held, the common case, is one probe)."""
    return dispatch.release_in_place_of(
        connection, task.tenant_id, runtime.settings.tenant_max_in_flight
    )


def release_freed_slot(runtime: Runtime, tenant_id: uuid.UUID) -> None:
    """A slot of the tenant was freed in a transaction already committed (a task given up on,
    or parked for a person): release and publish what now fits, in a transaction of its own."""
    with runtime.engine.begin() as connection:
        releases = dispatch.release_freed(
            connection, tenant_id, runtime.settings.tenant_max_in_flight
        )
    _publish_releases(runtime, releases)


def _release_after_commit(runtime: Runtime, task: ClaimedTask) -> list[dispatch.Release]:
    with runtime.engine.begin() as connection:
        return dispatch.fill_window(
            connection, task.tenant_id, runtime.settings.tenant_max_in_flight
        )


def _publish_releases(runtime: Runtime, releases: list[dispatch.Release]) -> None:
    dispatch.publish_releases(runtime.publisher, releases)


def _wake_workflow(runtime: Runtime, task: ClaimedTask) -> None:
    """A workflow step's task has ended: let its execution move on (after commit)."""
    if task.workflow_execution_id is not None:
        runtime.wake_workflow(task.workflow_execution_id)
