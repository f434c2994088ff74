"""Writing a run's progress: one step of the journal, one autocommit statement that also checks
the lease (``worker.durable.journal``).

The model's turns, the tool batches and the final answer all persist through here, so a lost
lease (the task was cancelled or reclaimed) stops the run at its next checkpoint, wherever in
the loop that is.
"""

from __future__ import annotations

import sqlalchemy as sa

from worker.agents.run_state import ActiveRun, LostLease
from worker.agents.runtime import Runtime
from worker.durable import faults, journal


def append_step(run: ActiveRun, step: journal.Step) -> None:
    """Persist one step with the metrics of its LLM attempts, if the lease holds."""
    step.metrics = [*run.pending_metrics, *step.metrics]
    with autocommit(run.runtime) as connection:
        written = journal.append(
            connection,
            task_id=run.task.id,
            owner=run.runtime.owner,
            run_id=run.state.id,
            model=run.state.model,
            step=step,
        )
    if not written:
        raise LostLease()
    run.pending_metrics = []
    run.state.messages.extend(step.messages)
    faults.fault_point(faults.AFTER_STEP_PERSISTED, run.runtime.settings.fault_point)


def autocommit(runtime: Runtime) -> sa.Connection:
    """A connection whose statements commit themselves: a one-statement step needs no
    BEGIN/COMMIT round trip."""
    return runtime.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
