"""Insert a row once: "INSERT … ON CONFLICT DO NOTHING, else read the row that is there".

Every exactly-once write by a natural key (a submission's idempotency key, a step's task, a
pinned workflow version, a tool call recorded before it runs) goes through ``insert_once``, so
two concurrent callers end with one row and both learn its id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert


@dataclass(frozen=True)
class Inserted:
    """The row with the key (its ``returning`` columns), and whether this call created it."""

    row: sa.Row[Any]
    created: bool


def insert_once(
    connection: sa.Connection,
    table: sa.Table,
    values: Mapping[str, Any],
    *,
    key: Sequence[str],
    returning: Sequence[sa.ColumnElement[Any]] = (),
    key_where: sa.ColumnElement[bool] | None = None,
) -> Inserted:
    """Insert ``values`` unless a row with the same ``key`` columns exists (a unique index on
    them, partial if ``key_where``); either way return that row. A concurrent insert of the
    same key waits for the other transaction, then reads its row."""
    columns = tuple(returning) or (table.c.id,)
    created = connection.execute(
        pg_insert(table)
        .values({table.c[name]: value for name, value in values.items()})
        .on_conflict_do_nothing(index_elements=list(key), index_where=key_where)
        .returning(*columns)
    ).one_or_none()
    if created is not None:
        return Inserted(created, True)
    matches = [table.c[name] == values[name] for name in key]
    if key_where is not None:
        matches.append(key_where)
    return Inserted(connection.execute(sa.select(*columns).where(*matches)).one(), False)
