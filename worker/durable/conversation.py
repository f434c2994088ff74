"""A run's conversation: one ``agent_run_messages`` row per message, numbered ``seq`` from 1.

``agent_runs.message_count`` is how many rows a run has. Whatever adds messages (the run's
start, every step of the journal) raises the count and inserts the new rows numbered after the
old count in the same statement, so the rows and the count never disagree and a step writes only
its own messages: its cost does not grow with the run (issue 15, migration 0016). Every reader of
a conversation goes through here.
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, aggregate_order_by

from models import AgentRun, AgentRunMessage

_runs = AgentRun.__table__
_rows = AgentRunMessage.__table__
#: The table itself, for readers that count or filter rows (``worker.agents.run_steps``).
MESSAGES = _rows


def insert_after(run: sa.CTE, messages: sa.ColumnElement[Any]) -> sa.Insert:
    """``INSERT INTO agent_run_messages`` the JSON array ``messages`` as rows of each run
    ``run`` returns (``id``, ``tenant_id`` and its ``message_count`` *after* adding them),
    numbered on from the count before. No rows when ``run`` returns none: embedded in a
    statement whose ``run`` is gated (on the lease), the rows are too."""
    elements = sa.func.jsonb_array_elements(messages).table_valued(
        sa.column("value", JSONB), with_ordinality="ordinality"
    )
    added = sa.func.jsonb_array_length(messages)
    seq = sa.cast(run.c.message_count - added + elements.c.ordinality, sa.Integer)
    return sa.insert(_rows).from_select(
        ["run_id", "seq", "tenant_id", "message"],
        sa.select(run.c.id, seq, run.c.tenant_id, elements.c.value)
        .select_from(run)
        .join(elements, sa.true()),
    )


def returning() -> tuple[sa.ColumnElement[Any], ...]:
    """What the run's INSERT or UPDATE returns for ``insert_after``."""
    return (_runs.c.id, _runs.c.tenant_id, _runs.c.message_count)


def of(run_id: sa.ColumnElement[uuid.UUID]) -> sa.ScalarSelect[Any]:
    """A scalar subquery: run ``run_id``'s messages as one JSON array, in order."""
    return (
        sa.select(
            sa.func.coalesce(
                sa.func.jsonb_agg(aggregate_order_by(_rows.c.message, _rows.c.seq)),
                sa.literal_column("'[]'::jsonb"),
            )
        )
        .where(_rows.c.run_id == run_id)
        .scalar_subquery()
    )


def load(connection: sa.Connection, run_id: uuid.UUID) -> list[dict[str, Any]]:
    """Run ``run_id``'s messages, in order (none for an unknown run)."""
    return list(
        connection.execute(
            sa.select(_rows.c.message).where(_rows.c.run_id == run_id).order_by(_rows.c.seq)
        ).scalars()
    )


def tail(connection: sa.Connection, run_id: uuid.UUID, count: int) -> tuple[list[Any], int]:
    """Run ``run_id``'s last ``count`` messages in order, and how many there are in all; reads
    only those rows, however long the run."""
    total = connection.execute(
        sa.select(_runs.c.message_count).where(_runs.c.id == run_id)
    ).scalar_one_or_none()
    if not total:
        return [], 0
    shown = connection.execute(
        sa.select(_rows.c.message)
        .where(_rows.c.run_id == run_id, _rows.c.seq > total - count)
        .order_by(_rows.c.seq)
    ).scalars()
    return list(shown), total
