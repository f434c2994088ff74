"""Queue probes: telling a task whose message was lost from one that is only queued (DESIGN §5.1).

The database cannot see into the broker: a PENDING task waiting in a backlog looks just like
one whose message was lost (a crash between commit and publish, a broker that dropped it).
Brokers hand a queue out in order (the more urgent first, then first in, first out), so the
reaper asks the queue itself. It publishes a small probe after the tasks it suspects, at their
priority; a worker that receives it records that everything published before it has been
delivered. A task queued before a probe that came back, and still unclaimed a moment later,
lost its message: the reaper re-publishes it. While the probe waits in the backlog nothing is
re-published, so a backlog never multiplies messages however long it is; at most one probe per
queue and priority is in flight, sent again only when it has not come back within the reaper's
patience. The claim, the hot path, is untouched.

A probe handed out again proves nothing and is ignored: Redis puts a message restored from a
dead worker at the head of its queue, ahead of what was queued before it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Annotated, Any, cast

import sqlalchemy as sa
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictInt, StrictStr
from sqlalchemy.dialects.postgresql import insert as pg_insert

from models import QueueProbe, Task, TaskStatus
from worker.core.contract import parse_payload

#: The queue every task's message goes through (``agents.run_task`` is routed there).
QUEUE = "agents"
#: The probe's task name: ``agents.*`` routes it to the same queue as the tasks it probes.
QUEUE_PROBE = "agents.queue_probe"

#: A task's row commits a moment before its message is published: a probe sent less than this
#: after the task's commit may have gone out ahead of it, and proves nothing about it.
PUBLISH_SLACK = timedelta(seconds=2)
#: How long after a probe came back a task delivered before it may still be on its way to its
#: claim (a busy connection pool, a slow database).
CLAIM_GRACE = timedelta(seconds=5)

_probes = cast(sa.Table, QueueProbe.__table__)


class ProbeMessage(BaseModel):
    """What a probe carries: where it was sent, and when."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    queue: Annotated[StrictStr, Field(min_length=1, max_length=64)]
    priority: Annotated[StrictInt, Field(ge=0, le=9)]
    sent_at: AwareDatetime


def probe_message(priority: int, sent_at: datetime) -> dict[str, Any]:
    return {"queue": QUEUE, "priority": priority, "sent_at": sent_at.isoformat()}


def record_probe_delivery(
    engine: sa.Engine, payload: Mapping[str, Any], *, redelivered: bool
) -> bool:
    """A worker received a probe: record that its queue has delivered everything published
    before it was sent. False when it tells nothing new (handed out again, or older than what
    is known). A probe claiming to come from the future is ignored."""
    if redelivered:
        return False
    probe = parse_payload(ProbeMessage, payload)
    with engine.begin() as connection:
        advanced = connection.execute(
            sa.update(_probes)
            .where(
                _probes.c.queue == probe.queue,
                _probes.c.priority == probe.priority,
                sa.literal(probe.sent_at) <= sa.func.now(),
                sa.or_(_probes.c.passed_at.is_(None), _probes.c.passed_at < probe.sent_at),
            )
            .values(passed_at=probe.sent_at, delivered_at=sa.func.now())
            .returning(_probes.c.priority)
        ).first()
    return advanced is not None


def suspected(stale_after: timedelta) -> sa.ColumnElement[bool]:
    """A PENDING task due for ``stale_after`` without being claimed. For a PENDING row,
    ``updated_at`` is when it became PENDING, was released or was last re-published (each
    followed by a publish); any other touch only makes it look younger, never older. A held
    task (fair dispatch: ``released_at`` NULL) has no message to lose and is never suspected."""
    since = sa.func.now() - stale_after
    return sa.and_(  # spelt out rather than greatest(), so that ix_tasks_status_updated_at serves
        Task.status == TaskStatus.PENDING,
        Task.released_at.is_not(None),
        Task.updated_at < since,
        sa.or_(Task.not_before.is_(None), Task.not_before < since),
    )


def _passed(*, since_grace: bool) -> sa.ColumnElement[bool]:
    """A probe of this task's queue, no more urgent than it, sent after its message and come
    back (``since_grace``: long enough ago for the task's claim to have landed)."""
    conditions = [
        _probes.c.queue == QUEUE,
        _probes.c.priority <= Task.priority,
        _probes.c.passed_at > Task.updated_at + PUBLISH_SLACK,
    ]
    if since_grace:
        conditions.append(_probes.c.delivered_at < sa.func.now() - CLAIM_GRACE)
    return sa.exists(sa.select(1).select_from(_probes).where(*conditions))


def lost() -> sa.ColumnElement[bool]:
    """A suspected task whose message is gone: a probe sent after it came back first."""
    return _passed(since_grace=True)


def probes_to_send(connection: sa.Connection, stale_after: timedelta) -> list[tuple[int, datetime]]:
    """Start a probe for each priority with a suspected task that no probe has passed yet,
    unless one is in flight and younger than ``stale_after``; (priority, sent_at) of each,
    to publish after the commit."""
    priorities = (
        connection.execute(
            sa.select(Task.priority)
            .where(suspected(stale_after), ~_passed(since_grace=False))
            .distinct()
        )
        .scalars()
        .all()
    )
    if not priorities:
        return []
    insert = pg_insert(_probes).values(
        [{"queue": QUEUE, "priority": p, "sent_at": sa.func.now()} for p in priorities]
    )
    in_flight = sa.and_(
        sa.or_(_probes.c.passed_at.is_(None), _probes.c.passed_at < _probes.c.sent_at),
        _probes.c.sent_at > sa.func.now() - stale_after,
    )
    sent = connection.execute(
        insert.on_conflict_do_update(
            index_elements=[_probes.c.queue, _probes.c.priority],
            set_={"sent_at": insert.excluded.sent_at},
            where=~in_flight,
        ).returning(_probes.c.priority, _probes.c.sent_at)
    ).all()
    return [(row.priority, row.sent_at) for row in sent]
