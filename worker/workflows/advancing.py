"""The state of one ``advance`` of a workflow execution, and what a step tells the engine.

``Advance`` lives for one short transaction that holds the execution row's lock: the
execution, its pinned definition, the latest attempt of each step's run as read (and as
moved), and the wakes to publish after commit. Going back to an earlier step starts a new
attempt of every step from there to where the jump was made (``start_again``), so each runs
and asks again; an earlier attempt's outcome never counts. A step returns ``Wait`` (it needs
a task, a branch or a person), ``Goto`` (the next step, or None when the workflow is finished)
or ``Fail`` (the execution fails).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from models import AIWorkflowStepRun, EventType, StepRunStatus
from worker.durable import records
from worker.durable.publishing import Wake
from worker.durable.rows import insert_once
from worker.durable.states import STEP_RUN
from worker.workflows.definition import WorkflowDefinition

_step_runs = AIWorkflowStepRun.__table__
#: Jumping back may run a step this many times in all; past that the execution fails.
MAX_STEP_ATTEMPTS = 10
#: Step runs that ended well: a jump back starts them again.
_ENDED = (StepRunStatus.COMPLETED, StepRunStatus.SKIPPED)


class Wait:
    """The step cannot finish now; the execution waits for a task, a branch or a decision."""


@dataclass(frozen=True)
class Goto:
    key: str | None  # None: the workflow is finished


@dataclass(frozen=True)
class Fail:
    reason: str


StepOutcome = Wait | Goto | Fail


@dataclass
class Advance:
    connection: sa.Connection
    execution: sa.Row[Any]
    definition: WorkflowDefinition
    scope: records.Scope
    wakes: list[Wake] = field(default_factory=list)
    #: The latest attempt of each step's run.
    step_runs: dict[str, sa.Row[Any]] = field(default_factory=dict)
    #: Each step's latest output, from an earlier attempt while the latest has none yet (so a
    #: step run again can read why: the rejected gate's comment, the draft it replaces).
    outputs: dict[str, Any] = field(default_factory=dict)

    def load_step_runs(self) -> None:
        rows = self.connection.execute(
            sa.select(_step_runs)
            .where(_step_runs.c.execution_id == self.execution.id)
            .order_by(_step_runs.c.attempt)
        ).all()
        for row in rows:
            self.step_runs[row.step_key] = row
            if row.output is not None:
                self.outputs[row.step_key] = row.output

    def context(self) -> dict[str, Any]:
        """What a step's templates and conditions may read: the input and earlier outputs."""
        return {
            "input": self.execution.input_data,
            "execution": {"id": str(self.execution.id)},
            "steps": {
                key: {
                    "output": run.output if run.output is not None else self.outputs.get(key),
                    "status": str(run.status),
                    "attempt": run.attempt,
                }
                for key, run in self.step_runs.items()
            },
        }

    def step_states(self) -> dict[str, Any]:
        """Each step's status and output, as the execution row keeps them for readers."""
        return {
            key: {"status": str(run.status), "output": run.output}
            for key, run in self.step_runs.items()
        }

    def following(self, key: str) -> str | None:
        """The step after ``key`` in the definition, or None after the last."""
        steps = self.definition.steps
        position = self.definition.index(key)
        return steps[position + 1].key if position + 1 < len(steps) else None

    def step_run(self, key: str, kind: str) -> sa.Row[Any]:
        """The step's latest run row, attempt 1 created PENDING when the step is first
        reached."""
        run = self.step_runs.get(key)
        if run is None:
            run = self._new_attempt(key, kind, 1)
        return run

    def start_again(self, first: str, last: str) -> str | None:
        """A jump back from ``last`` to ``first``: every step between them (both included, and
        the branches of a parallel step) that ended gets a new PENDING attempt. Returns why
        the execution must fail if a step would pass ``MAX_STEP_ATTEMPTS``, else None."""
        definition = self.definition
        steps = definition.steps[definition.index(first) : definition.index(last) + 1]
        keys = [key for step in steps for key in (step.key, *_branch_keys(step))]
        for key in keys:
            run = self.step_runs.get(key)
            if run is None or run.status not in _ENDED:
                continue
            if run.attempt >= MAX_STEP_ATTEMPTS:
                return (
                    f"step '{key}' has run {run.attempt} attempts (each jump back to it starts "
                    f"one; at most {MAX_STEP_ATTEMPTS}); is the workflow looping?"
                )
            self._new_attempt(key, run.step_kind, run.attempt + 1)
            records.write(
                self.connection,
                events=[
                    records.event(
                        self.scope,
                        EventType.STATE_CHANGE,
                        f"step {key}: attempt {run.attempt + 1}",
                        {"step": key, "attempt": run.attempt + 1, "back_from": last},
                    )
                ],
            )
        return None

    def _new_attempt(self, key: str, kind: str, attempt: int) -> sa.Row[Any]:
        run = insert_once(
            self.connection,
            _step_runs,  # type: ignore[arg-type]
            {
                "tenant_id": self.execution.tenant_id,
                "execution_id": self.execution.id,
                "step_key": key,
                "step_kind": kind,
                "attempt": attempt,
                "status": StepRunStatus.PENDING,
            },
            key=["execution_id", "step_key", "attempt"],
            returning=list(_step_runs.c),
        ).row
        self.step_runs[key] = run
        return run

    def awaiting_approval(self, key: str) -> bool:
        run = self.step_runs.get(key)
        return run is not None and run.status == StepRunStatus.AWAITING_APPROVAL

    def transition(self, key: str, target: StepRunStatus, **values: Any) -> None:
        """Move the step's run to ``target`` (with ``values``) and record the change; a run
        whose status does not allow it stays as it is."""
        run = self.step_runs[key]
        moved = STEP_RUN.apply(
            self.connection, run.id, target, values=values, returning=list(_step_runs.c)
        )
        if moved is not None:
            self.step_runs[key] = moved
            records.write(
                self.connection,
                events=[
                    records.event(
                        self.scope,
                        EventType.STATE_CHANGE,
                        f"step {key}: {target.value}",
                        {"step": key, "from": str(run.status), "to": target.value},
                    )
                ],
            )


def _branch_keys(step: Any) -> tuple[str, ...]:
    return tuple(branch.key for branch in getattr(step, "branches", ()))
