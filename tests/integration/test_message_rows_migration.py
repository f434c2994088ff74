"""Migration 0016 moves every run's ``agent_runs.messages`` into ``agent_run_messages`` rows
(so a run interrupted before the upgrade resumes after it), and its downgrade folds them back."""

from __future__ import annotations

import json
import uuid
from typing import Any

import sqlalchemy as sa
from alembic import command

from models.db import create_sync_engine
from worker.durable import conversation, schema

BEFORE = "0015_fair_dispatch"
AFTER = "0016_message_rows"


def _conversation(n: int) -> list[dict[str, Any]]:
    return [{"role": "system", "content": "be brief"}] + [
        {"role": "tool" if i % 2 else "assistant", "content": f"message {i}"} for i in range(n)
    ]


def _old_runs(engine: sa.Engine, conversations: list[Any]) -> list[uuid.UUID]:
    """One run per conversation, written as 0015's schema holds it: one JSONB column."""
    with engine.begin() as connection:
        tenant = connection.execute(
            sa.text("INSERT INTO tenants (name, slug) VALUES ('t', :s) RETURNING id"),
            {"s": f"t-{uuid.uuid4().hex[:8]}"},
        ).scalar_one()
        task = connection.execute(
            sa.text("INSERT INTO tasks (tenant_id, status) VALUES (:t, 'RUNNING') RETURNING id"),
            {"t": tenant},
        ).scalar_one()
        return [
            connection.execute(
                sa.text(
                    "INSERT INTO agent_runs (tenant_id, task_id, agent_name, status, messages) "
                    "VALUES (:t, :task, 'a', 'RUNNING', CAST(:m AS jsonb)) RETURNING id"
                ),
                {"t": tenant, "task": task, "m": json.dumps(messages)},
            ).scalar_one()
            for messages in conversations
        ]


def _filler_runs(engine: sa.Engine, n: int) -> None:
    """``n`` more runs of two messages each: more runs than the migration moves per batch."""
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO agent_runs (tenant_id, task_id, agent_name, status, messages) "
                "SELECT tenant_id, task_id, 'filler', 'COMPLETED', "
                "       jsonb_build_array(jsonb_build_object('n', i), jsonb_build_object('n', -i)) "
                "  FROM (SELECT tenant_id, task_id FROM agent_runs LIMIT 1) r, "
                "       generate_series(1, :n) AS i"
            ),
            {"n": n},
        )


def test_upgrade_moves_each_run_s_messages_into_rows_and_downgrade_folds_them_back(
    empty_database_url: str,
) -> None:
    config = schema.alembic_config(empty_database_url)
    command.upgrade(config, BEFORE)
    engine = create_sync_engine(empty_database_url)
    try:
        conversations: list[Any] = [_conversation(5), [], _conversation(1), _conversation(40)]
        runs = _old_runs(engine, conversations)
        _filler_runs(engine, 1200)  # the migration moves 500 runs per batch

        command.upgrade(config, AFTER)
        with engine.connect() as connection:
            for run_id, messages in zip(runs, conversations, strict=True):
                assert conversation.load(connection, run_id) == messages
                count = connection.execute(
                    sa.text("SELECT message_count FROM agent_runs WHERE id = :id"), {"id": run_id}
                ).scalar_one()
                assert count == len(messages)
            seqs = connection.execute(
                sa.text("SELECT seq FROM agent_run_messages WHERE run_id = :id ORDER BY seq"),
                {"id": runs[0]},
            ).scalars()
            assert list(seqs) == [1, 2, 3, 4, 5, 6]
            filled = connection.execute(
                sa.text(
                    "SELECT count(*), count(DISTINCT m.run_id), min(r.message_count), "
                    "max(r.message_count) FROM agent_run_messages m "
                    "JOIN agent_runs r ON r.id = m.run_id WHERE r.agent_name = 'filler'"
                )
            ).one()
            assert tuple(filled) == (2400, 1200, 2, 2)

        command.downgrade(config, BEFORE)
        with engine.connect() as connection:
            folded = connection.execute(
                sa.text("SELECT id, messages FROM agent_runs WHERE agent_name = 'a'"),
            ).all()
        assert dict(folded) == dict(zip(runs, conversations, strict=True))
        command.upgrade(config, "head")  # and up again: the rows come back the same
    finally:
        engine.dispose()
