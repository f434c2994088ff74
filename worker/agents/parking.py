"""Parking a run until a person decides: the task goes AWAITING_APPROVAL holding no worker
slot, its run WAITING_APPROVAL, and the decision (``worker.approvals.outcomes``) wakes it."""

from __future__ import annotations

import sqlalchemy as sa

from models import AgentRunStatus, EventType, TaskStatus
from worker.agents.run_state import ActiveRun, LostLease
from worker.durable import records
from worker.durable.leases import release_task
from worker.durable.states import AGENT_RUN


def park(connection: sa.Connection, run: ActiveRun, waiting_for: str) -> None:
    """Park ``run`` in the caller's transaction (``LostLease`` if this worker no longer holds
    its task); ``waiting_for`` says what the person is asked, for the run's event."""
    if not release_task(connection, run.task.id, run.runtime.owner, TaskStatus.AWAITING_APPROVAL):
        raise LostLease()
    AGENT_RUN.apply(connection, run.state.id, AgentRunStatus.WAITING_APPROVAL)
    records.write(
        connection,
        metrics=run.pending_metrics,
        events=[
            records.event(
                run.scope,
                EventType.SYSTEM,
                f"waiting for a person to {waiting_for}; the worker slot is released",
            )
        ],
    )
    run.pending_metrics = []
