"""A malformed message that arrives while PostgreSQL restarts is still recorded: the worker
acks it only after its dead letter is written, so it waits for the database to come back."""

from __future__ import annotations

import threading
import time

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from models.db import create_sync_engine
from worker.app.dead_letters import keep_dead_letter


def test_a_dead_letter_written_during_a_database_outage_waits_for_the_database(
    engine: sa.Engine, database_url: str, postgres_server_url: str
) -> None:
    name = make_url(database_url).database
    admin = create_sync_engine(
        postgres_server_url, poolclass=NullPool, isolation_level="AUTOCOMMIT"
    )
    with admin.connect() as connection:
        connection.execute(sa.text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
        connection.execute(
            sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
            {"n": name},
        )

    def come_back() -> None:
        time.sleep(2)
        with admin.connect() as connection:
            connection.execute(sa.text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))

    restart = threading.Thread(target=come_back)
    restart.start()
    try:
        keep_dead_letter(
            engine,
            task="agents.run_task",
            message_id="message-during-outage",
            args=["positional"],
            kwargs={},
            kind="refused",
            error="positional arguments",
            patience_seconds=30,
        )
    finally:
        restart.join()
        admin.dispose()
    with engine.connect() as connection:
        kept = connection.execute(
            sa.text(
                "SELECT count(*) FROM ai_error_logs "
                "WHERE error_context->>'broker_message_id' = 'message-during-outage'"
            )
        ).scalar()
    assert kept == 1
