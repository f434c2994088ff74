"""Fair dispatch: each tenant has at most a window of tasks released to the broker at once.

A task is *released* (``tasks.released_at`` set) when its message is published; released and
not finished (PENDING or RUNNING) it is *in flight*. A tenant has at most ``max_in_flight`` of
those; a task submitted beyond that is written PENDING but *held* (``released_at`` NULL) and
nothing is published for it. Whatever frees a slot (a task finishing, cancelled, given up on
after its attempts or parked for a person; the reaper finding room) releases the tenant's next
held tasks (the most urgent, then the oldest) in the same transaction, or the next one, and the
caller publishes them after the commit (``release_freed``, ``publish_releases``). Every
submission is admitted through the window: the client's, the API's, a foreign message's, a
workflow step's and an automation rule's. The tasks of an execution that ends are cancelled in
its transaction without a publisher at hand: the reaper's pass hands their slots on.

The broker never holds more than ``max_in_flight`` messages of one tenant, so its queue
interleaves tenants: another tenant's task waits behind at most ``max_in_flight`` messages of
each busy tenant, not their backlog.

The window lives in PostgreSQL rows, not in a process: any number of hosts admit and release
through the same rows. Admissions, and releases of slots freed in a transaction already
committed, are serialized per tenant by a transaction advisory lock taken before the count, so
two hosts cannot both fill the last slot; tenants do not wait for one another. A task's ending
hands its own slot to one held task in the ending's transaction, without the lock
(``release_in_place_of``): one busy tenant's endings never queue behind one another. A task
waiting for a person (AWAITING_APPROVAL) holds no slot: when it resumes it goes straight back
to the broker, so the window may be exceeded by the tasks that resume at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa

from models import Task, TaskStatus
from worker.core.contract import RUN_TASK
from worker.durable.publishing import Publisher

#: Where a tenant's own window is kept: ``tenants.metadata`` → {"dispatch": {"max_in_flight": N}}.
OVERRIDE_KEY = ("dispatch", "max_in_flight")
#: Statuses that hold a slot when released: queued in the broker, or running.
IN_FLIGHT = (TaskStatus.PENDING, TaskStatus.RUNNING)
#: The advisory lock class of admissions (the second key is the tenant's hash).
_LOCK_CLASS = 0x0FA1

_tasks = cast(sa.Table, Task.__table__)


@dataclass(frozen=True)
class Release:
    """A task just released: publish ``agents.run_task`` for it after the commit."""

    task_id: uuid.UUID
    priority: int


def max_in_flight(default: int, tenant_metadata: Mapping[str, Any] | None) -> int:
    """The tenant's window: its own (``tenants.metadata.dispatch.max_in_flight``, a positive
    integer) or ``default`` (``AGENTWORKER_TENANT_MAX_IN_FLIGHT``). The one place it is read."""
    value: Any = tenant_metadata or {}
    for key in OVERRIDE_KEY:
        value = value.get(key) if isinstance(value, Mapping) else None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    return default


_LOCK_AND_WINDOW = sa.text(
    "SELECT pg_advisory_xact_lock(:lock_class, hashtext(CAST(:tenant_id AS text))), "
    "(SELECT metadata FROM tenants WHERE id = :tenant_id)"
)

# Spelt as literals, the very predicates of the partial indexes ix_tasks_in_flight and
# ix_tasks_held: with bound values, a prepared statement's generic plan could not use them.
_in_flight = sa.text("tasks.released_at IS NOT NULL AND tasks.status IN ('PENDING', 'RUNNING')")
_held = sa.text("tasks.released_at IS NULL AND tasks.status = 'PENDING'")
assert {status.value for status in IN_FLIGHT} == {"PENDING", "RUNNING"}


def _in_flight_of(tenant: uuid.UUID | sa.ColumnElement[Any]) -> sa.ScalarSelect[int]:
    """The count of ``tenant``'s tasks in flight, for embedding in a statement."""
    return (
        sa.select(sa.func.count())
        .select_from(_tasks)
        .where(_tasks.c.tenant_id == tenant, _in_flight)
        .scalar_subquery()
    )


def _fill_statement() -> sa.Update:
    tenant = sa.bindparam("fill_tenant_id", type_=_tasks.c.tenant_id.type)
    window = sa.bindparam("fill_window", type_=sa.Integer)
    in_flight = _in_flight_of(tenant)
    room = sa.func.greatest(window - in_flight, 0)
    chosen = (
        sa.select(_tasks.c.id)
        .where(_tasks.c.tenant_id == tenant, _held)
        .order_by(_tasks.c.priority.desc(), _tasks.c.created_at)
        .limit(room)
        .with_for_update(skip_locked=True)
        .cte("chosen")
    )
    now = sa.func.now()
    return (
        sa.update(_tasks)
        .where(_tasks.c.id == chosen.c.id)
        # updated_at: a released task counts as queued from now (the reaper's lost-message
        # check measures from it).
        .values(released_at=now, updated_at=now)
        .returning(_tasks.c.id, _tasks.c.priority)
    )


_FILL = _fill_statement()


def fill_window(connection: sa.Connection, tenant_id: uuid.UUID, default: int) -> list[Release]:
    """Release the tenant's held tasks that fit in its window, inside the caller's
    transaction; the caller publishes them after its commit. The lock is held to the end of
    the transaction, so the count the next admission sees includes these."""
    metadata = connection.execute(
        _LOCK_AND_WINDOW, {"lock_class": _LOCK_CLASS, "tenant_id": tenant_id}
    ).one()[1]
    window = max_in_flight(default, metadata)
    rows = connection.execute(_FILL, {"fill_tenant_id": tenant_id, "fill_window": window}).all()
    return [Release(row.id, row.priority) for row in rows]


def _release_one_statement() -> sa.Update:
    tenant = sa.bindparam("one_tenant_id", type_=_tasks.c.tenant_id.type)
    window = sa.bindparam("one_window", type_=sa.Integer)
    in_flight = _in_flight_of(tenant)
    chosen = (
        sa.select(_tasks.c.id)
        .where(_tasks.c.tenant_id == tenant, _held)
        .order_by(_tasks.c.priority.desc(), _tasks.c.created_at)
        .limit(1)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    now = sa.func.now()
    return (
        sa.update(_tasks)
        .where(_tasks.c.id == chosen, in_flight < window)
        .values(released_at=now, updated_at=now)
        .returning(_tasks.c.id, _tasks.c.priority)
    )


_RELEASE_ONE = _release_one_statement()

_HELD_AND_WINDOW = sa.text(
    "SELECT EXISTS (SELECT 1 FROM tasks WHERE tenant_id = :tenant_id AND "
    "tasks.released_at IS NULL AND tasks.status = 'PENDING'), "
    "(SELECT metadata FROM tenants WHERE id = :tenant_id)"
)


def release_in_place_of(
    connection: sa.Connection, tenant_id: uuid.UUID, default: int
) -> list[Release]:
    """This transaction ended a task of the tenant that held a slot (it was in flight):
    release at most one held task in its place, without the tenant's lock, so that one busy
    tenant's endings never queue behind each other. Safe without the lock because the ended
    task still counts as in flight for every other transaction until this one commits: an
    admission (which counts under the lock) cannot give its slot away too, and two endings
    at once each hand on only their own slot (``SKIP LOCKED`` picks different tasks; the
    count, which cannot see the other's release, still sees the other's task gone)."""
    held, metadata = connection.execute(_HELD_AND_WINDOW, {"tenant_id": tenant_id}).one()
    if not held:
        return []
    window = max_in_flight(default, metadata)
    rows = connection.execute(
        _RELEASE_ONE, {"one_tenant_id": tenant_id, "one_window": window}
    ).all()
    return [Release(row.id, row.priority) for row in rows]


def release_freed(connection: sa.Connection, tenant_id: uuid.UUID, default: int) -> list[Release]:
    """After this transaction freed a slot of the tenant (a task ended, was cancelled or
    parked for a person): release what now fits, to publish after the commit. A tenant with
    nothing held (the common case) takes no lock."""
    if not has_held(connection, tenant_id):
        return []
    return fill_window(connection, tenant_id, default)


def publish_releases(publisher: Publisher, releases: Iterable[Release]) -> None:
    """Publish the run messages of tasks just released (after their transaction's commit)."""
    for release in releases:
        publisher.publish(
            RUN_TASK,
            {"task_id": str(release.task_id)},
            task_id=str(release.task_id),
            priority=release.priority,
        )


def has_held(connection: sa.Connection, tenant_id: uuid.UUID) -> bool:
    """Whether the tenant has a held task (one index probe, no lock): an ending of a tenant
    with none needs no release, so one busy tenant's finishes never queue on its lock."""
    return bool(connection.execute(sa.select(held_clause(tenant_id))).scalar_one())


def held_clause(tenant_id: uuid.UUID | sa.ColumnElement[Any]) -> sa.Exists:
    """``EXISTS`` a held task of the tenant, for embedding in a larger statement."""
    return sa.exists().where(_tasks.c.tenant_id == tenant_id, _held)


def in_flight_count(connection: sa.Connection, tenant_id: uuid.UUID) -> int:
    """The tenant's released tasks not finished: what its window bounds."""
    return int(connection.execute(sa.select(_in_flight_of(tenant_id))).scalar_one())
