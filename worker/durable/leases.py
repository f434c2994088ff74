"""Leases: exactly one live worker owns a running task (DESIGN §5).

A worker claims a task with one conditional UPDATE that sets itself as ``lease_owner`` and an
expiry. One heartbeat thread per process renews, with a single UPDATE, the leases of the tasks
the process is executing right now (``LeaseHeartbeat.holding``), so a hundred runs in flight
cost one statement per interval, and a task whose run stopped (it raised, its thread is stuck
elsewhere) is never kept alive by a healthy neighbour. A worker that dies stops renewing; once
its leases expire, a redelivery or the reaper reclaims the task.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from models import AgentRun, AgentRunStatus, ErrorSeverity, EventType, Task, TaskStatus
from worker.durable import records
from worker.durable.states import AGENT_RUN, TASK
from worker.durable.tenant_lookup import renew_leases

log = logging.getLogger(__name__)
_tasks = Task.__table__


def new_owner_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class ClaimedTask:
    id: uuid.UUID
    tenant_id: uuid.UUID
    agent_id: uuid.UUID | None
    agent_name: str | None
    input_prompt: str | None
    input_payload: dict[str, Any]
    attempts: int
    title: str | None
    priority: int
    workflow_execution_id: uuid.UUID | None
    workflow_step: str | None


@dataclass(frozen=True)
class GaveUp:
    """The task was due, but had used all its attempts: it is FAILED now, not claimed."""

    id: uuid.UUID
    tenant_id: uuid.UUID
    attempts: int
    workflow_execution_id: uuid.UUID | None
    reason: str


#: A claim moves a due PENDING task to RUNNING, or takes over a RUNNING one whose lease ran out
#: (its worker died; the status stays). Either only while the task has attempts left.
assert TaskStatus.PENDING in TASK.sources(TaskStatus.RUNNING)


def _claimable() -> sa.ColumnElement[bool]:
    now = sa.func.now()
    return sa.and_(
        Task.id == sa.bindparam("claim_task_id", type_=_tasks.c.id.type),
        sa.or_(
            sa.and_(
                Task.status == TaskStatus.PENDING,
                sa.or_(Task.not_before.is_(None), Task.not_before <= now),
            ),
            sa.and_(Task.status == TaskStatus.RUNNING, Task.lease_expires_at < now),
        ),
    )


def _unfinished_claims() -> sa.ColumnElement[int]:
    """Claims that ended without the worker handing the task back: its worker died."""
    return Task.attempts - Task.hand_backs


def _claim_statement() -> sa.Update:
    # Parameter names differ from the columns': SQLAlchemy would read a parameter named like a
    # column as one more SET value.
    now = sa.func.now()
    return (
        sa.update(_tasks)
        .where(_claimable(), _unfinished_claims() < Task.max_attempts)
        .values(
            status=TaskStatus.RUNNING,
            lease_owner=sa.bindparam("claim_owner", type_=_tasks.c.lease_owner.type),
            lease_expires_at=now + sa.bindparam("claim_lease", type_=sa.Interval),
            attempts=Task.attempts + 1,
            started_at=sa.func.coalesce(Task.started_at, now),
            not_before=None,
        )
        .returning(*(_tasks.c[name] for name in ClaimedTask.__dataclass_fields__))
    )


#: Built once: claiming is on every task's path.
_CLAIM = _claim_statement()
_GIVE_UP = TASK.bulk_statement(
    TaskStatus.FAILED,
    sources=[TaskStatus.PENDING, TaskStatus.RUNNING],
    where=[_claimable(), _unfinished_claims() >= Task.max_attempts],
    values={
        "error": sa.func.concat(
            "gave up after ",
            _unfinished_claims(),
            " attempts that did not finish (max_attempts), e.g. its worker was killed "
            "each time; see the task's events and the workers' logs",
        ),
        "error_code": "too_many_attempts",
        "finished_at": sa.func.now(),
        "lease_owner": None,
        "lease_expires_at": None,
    },
    returning=[
        _tasks.c.id,
        _tasks.c.tenant_id,
        _tasks.c.attempts,
        _tasks.c.workflow_execution_id,
        _tasks.c.error,
    ],
)
_RESUMABLE_RUNS = [AgentRunStatus.STARTED, AgentRunStatus.RUNNING, AgentRunStatus.WAITING_APPROVAL]


def claim_task(
    connection: sa.Connection, task_id: uuid.UUID, owner: str, lease_seconds: float
) -> ClaimedTask | GaveUp | None:
    """Take the task if it is due and nobody live holds it. A due task that has used all its
    attempts is failed instead (``GaveUp``), with its runs, an event and an error log. None:
    not due, already done, or held by a live worker."""
    row = connection.execute(
        _CLAIM,
        {
            "claim_task_id": task_id,
            "claim_owner": owner,
            "claim_lease": timedelta(seconds=lease_seconds),
        },
    ).one_or_none()
    if row is not None:
        return ClaimedTask(**row._mapping)
    failed = connection.execute(_GIVE_UP, {"claim_task_id": task_id}).one_or_none()
    if failed is None:
        return None
    return _record_giving_up(connection, failed)


def _record_giving_up(connection: sa.Connection, failed: sa.Row[Any]) -> GaveUp:
    AGENT_RUN.apply_all(
        connection,
        AgentRunStatus.FAILED,
        where=[AgentRun.task_id == failed.id, AgentRun.status.in_(_RESUMABLE_RUNS)],
        values={"error": failed.error, "finished_at": sa.func.now()},
    )
    scope = records.Scope(failed.tenant_id, failed.id)
    records.write(
        connection,
        events=[records.event(scope, EventType.ERROR, failed.error, {"code": "too_many_attempts"})],
        errors=[
            records.error_log(
                scope,
                error_type="task.too_many_attempts",
                message=failed.error,
                severity=ErrorSeverity.HIGH,
                context={"attempts": failed.attempts},
            )
        ],
    )
    return GaveUp(
        failed.id, failed.tenant_id, failed.attempts, failed.workflow_execution_id, failed.error
    )


def lease_held(
    task_id: uuid.UUID | sa.BindParameter[Any], owner: str | sa.BindParameter[Any]
) -> sa.ColumnElement[bool]:
    """True while ``owner`` holds the task and it is still RUNNING (not cancelled or taken)."""
    return sa.exists().where(
        Task.id == task_id, Task.lease_owner == owner, Task.status == TaskStatus.RUNNING
    )


def release_task(
    connection: sa.Connection,
    task_id: uuid.UUID,
    owner: str,
    target: TaskStatus,
    **values: Any,
) -> bool:
    """Move a RUNNING task that ``owner`` still holds to ``target`` and give up the lease.
    False if the task was cancelled or taken over meanwhile (then nothing changes)."""
    return connection.execute(release(task_id, owner, target, **values)).first() is not None


def release(
    task_id: uuid.UUID | sa.BindParameter[Any],
    owner: str | sa.BindParameter[Any],
    target: TaskStatus,
    **values: Any,
) -> sa.Update:
    """The UPDATE ``release_task`` runs (``RETURNING id``), for embedding in a larger
    statement; the ids may be bind parameters."""
    handed_back = {"hand_backs": Task.hand_backs + 1} if target in _HAND_BACKS else {}
    return TASK.statement(
        task_id,
        target,
        sources=[TaskStatus.RUNNING],
        where=[Task.lease_owner == owner],
        values={**values, **handed_back, "lease_owner": None, "lease_expires_at": None},
    )


#: Releasing to these hands the task back to run again later: not a used-up attempt.
_HAND_BACKS = frozenset({TaskStatus.PENDING, TaskStatus.AWAITING_APPROVAL})


class LeaseHeartbeat:
    """Renews, every ``lease_seconds / 3`` until stopped, the leases ``owner`` holds on the
    tasks it is executing now."""

    def __init__(
        self,
        engine: sa.Engine,
        owner: str,
        lease_seconds: float,
        *,
        on_beat: Callable[[], None] | None = None,
    ) -> None:
        self._engine = engine
        self._owner = owner
        self._lease = lease_seconds
        self._on_beat = on_beat  # told after every beat that reached the database
        self._executing: set[uuid.UUID] = set()
        self._executing_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="lease-heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    @contextmanager
    def holding(self, task_id: uuid.UUID) -> Iterator[None]:
        """Keep ``task_id``'s lease alive while the block runs, and only then."""
        with self._executing_lock:
            self._executing.add(task_id)
        try:
            yield
        finally:
            with self._executing_lock:
                self._executing.discard(task_id)

    def beat(self) -> int:
        """Renew the leases of the tasks executing now; how many were renewed."""
        with self._executing_lock:
            executing = list(self._executing)
        if not executing:
            return 0
        with self._engine.begin() as connection:  # the tasks of every tenant it runs
            return renew_leases(connection, self._owner, executing, self._lease)

    def _run(self) -> None:
        while not self._stop.wait(self._lease / 3):
            try:
                self.beat()
                if self._on_beat is not None:
                    self._on_beat()
            except Exception:  # the next beat retries; a dead DB shows up everywhere else
                log.warning("lease heartbeat failed", exc_info=True)
