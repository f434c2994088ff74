"""Side effects once: how a tool call with effects is recorded around its run (DESIGN §8).

Every call of a tool with side effects owns one action_logs row, unique by its idempotency key
(the run and the model's tool-call id, stable across redeliveries). Two protocols use it:

- **Database tools** (``transactional=True``: their effects are rows in our database) run in
  one transaction that inserts the call's row first, runs the tool on sessions joined to that
  transaction, and writes the result into the row before it commits. The effects and the
  result commit together or not at all: a crash anywhere leaves nothing, and the redelivered
  call runs again from scratch. A second worker running the same call (it took over an
  expired lease) waits on the row's key and then finds the first one's result.
- **External tools** record the call PENDING and commit before the tool acts, and write its
  result the moment it returns. A PENDING row found later means *outcome unknown*: the tool
  may have acted. A tool declared ``idempotent`` (its service deduplicates by the key it is
  given) is called again, told so; any other is never re-run, and the model is told the
  outcome is unknown.

No call starts unless this worker still holds the task's lease: a cancelled or taken-over
run raises ``LostLease`` before the tool acts.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from models import ActionLog, ActionStatus, Task, TaskStatus
from worker.agents.run_state import LostLease
from worker.durable.rows import insert_once

_action_logs = ActionLog.__table__

#: What the model and the record say of a call whose outcome nobody knows.
OUTCOME_UNKNOWN = (
    "outcome unknown: the worker stopped after this call started and before its result was "
    "recorded, so it may or may not have taken effect; it was not run again. Check its effect "
    "before calling it again."
)


@dataclass(frozen=True)
class Lease:
    """Who must still hold which task for a call to start."""

    task_id: uuid.UUID
    owner: str


@dataclass(frozen=True)
class RecordedCall:
    """A call's row as an earlier attempt left it."""

    status: ActionStatus
    response_data: Any
    error_message: str | None

    @property
    def finished(self) -> bool:
        return self.status != ActionStatus.PENDING


_RECORDED = (_action_logs.c.status, _action_logs.c.response_data, _action_logs.c.error_message)


def record_call(
    connection: sa.Connection, row: Mapping[str, Any], lease: Lease | None
) -> RecordedCall | None:
    """Insert the call's row as ``row`` says, if ``lease`` still holds; None when this call
    created it, else the row an earlier attempt recorded. Raises ``LostLease``."""
    if lease is not None and not _holds(connection, lease):
        raise LostLease()
    inserted = insert_once(
        connection,
        _action_logs,  # type: ignore[arg-type]
        row,
        key=["idempotency_key"],
        returning=_RECORDED,
    )
    if inserted.created:
        return None
    earlier = inserted.row
    return RecordedCall(ActionStatus(earlier.status), earlier.response_data, earlier.error_message)


def complete_call(
    connection: sa.Connection, row: Mapping[str, Any], *, only_pending: bool = False
) -> None:
    """Write the call's result into its row (recorded before it ran); with ``only_pending``,
    only if no result was written yet (a call that timed out races its own late result)."""
    where = [_action_logs.c.idempotency_key == row["idempotency_key"]]
    if only_pending:
        where.append(_action_logs.c.status == ActionStatus.PENDING)
    connection.execute(
        sa.update(_action_logs)  # type: ignore[arg-type]
        .where(*where)
        .values(
            status=row["status"],
            response_data=row["response_data"],
            error_message=row["error_message"],
            execution_time_ms=row["execution_time_ms"],
        )
    )


@contextmanager
def database_effects(
    engine: sa.Engine,
) -> Iterator[tuple[sa.Connection, Callable[[], Any], Callable[[], None]]]:
    """A transaction, a session factory whose sessions join it (a tool's ``commit()`` only
    releases a savepoint), and the commit: unless it is called, everything rolls back."""
    with engine.connect() as connection:
        transaction = connection.begin()
        sessions = sessionmaker(
            bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False
        )
        try:
            yield connection, sessions, transaction.commit
        finally:
            if transaction.is_active:
                transaction.rollback()


def _holds(connection: sa.Connection, lease: Lease) -> bool:
    return (
        connection.execute(
            sa.select(Task.id).where(
                Task.id == lease.task_id,
                Task.lease_owner == lease.owner,
                Task.status == TaskStatus.RUNNING,
            )
        ).first()
        is not None
    )
