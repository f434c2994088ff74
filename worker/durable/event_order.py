"""Commit-safe order of ``event_logs``: how a reader of "the events after this one" never
skips an event.

Event ids come from one sequence at INSERT, but transactions commit in another order: an
execution's parallel branches (or a cancel racing a worker) can commit event 101 after a
reader has already returned 102, and a reader of "ids above 102" would never see 101.

So every row records its writing transaction (``writer_xid``, the server default
``pg_current_xact_id()``; NULL on rows written before migration 0011, read as 0), and readers
take only the rows whose writer is older than every transaction still in progress
(``writer_xid < pg_snapshot_xmin(pg_current_snapshot())``: ``settled``), in
``(writer_xid, id)`` order. The settled rows can no longer change (their writers have all
ended), and a row written later has a writer at or above the watermark, so it sorts after every
settled row: a reader that goes on from the last row it got (its ``Cursor``) misses none and
gets none twice.

The price: a committed event waits while any older writing transaction in the database is
still open (``held`` rows), so keep transactions short. The public position is still the
event id: ``cursor_of`` finds a settled event's cursor, and ids within a read are unique but
not always increasing.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import sqlalchemy as sa

from models import EventLog


class Cursor(NamedTuple):
    """A position in commit-safe order: the last event read (its writer, its id)."""

    xid: int
    id: int


#: Before every event.
START = Cursor(0, 0)

#: A row's writer (0 for rows written before ``writer_xid`` existed).
WRITER: sa.ColumnElement[int] = sa.func.coalesce(EventLog.writer_xid, 0)
#: The oldest transaction still in progress, as of this statement's snapshot.
WATERMARK: sa.ColumnElement[int] = sa.cast(
    sa.cast(sa.func.pg_snapshot_xmin(sa.func.pg_current_snapshot()), sa.Text), sa.BigInteger
)
#: Commit-safe order.
ORDER: tuple[Any, ...] = (WRITER, EventLog.id)


def settled() -> sa.ColumnElement[bool]:
    """The row's writer ended before every transaction still open began writing: no event
    can appear before it in commit-safe order any more."""
    return WRITER < WATERMARK


def after(cursor: Cursor) -> sa.ColumnElement[bool]:
    """The rows after ``cursor`` in commit-safe order."""
    return sa.tuple_(WRITER, EventLog.id) > sa.tuple_(
        sa.literal(cursor.xid, sa.BigInteger), sa.literal(cursor.id, sa.BigInteger)
    )


def cursor_of(
    connection: sa.Connection, event_id: int, where: sa.ColumnElement[bool]
) -> Cursor | None:
    """The cursor of event ``event_id`` when it is one of the rows ``where`` selects and is
    settled (a reader has sent it), else None; ``event_id`` 0 is ``START``."""
    if event_id == 0:
        return START
    row = connection.execute(
        sa.select(WRITER, EventLog.id).where(EventLog.id == event_id, where, settled())
    ).first()
    return Cursor(int(row[0]), int(row[1])) if row is not None else None
