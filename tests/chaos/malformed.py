"""Malformed messages among the good ones: every kind tests/e2e/test_malformed_messages.py
knows, published raw (as any client could, past Celery's own checks), and whether each left
a record an operator can list (a FAILED task row, or an ``ai_error_logs`` row, naming its
broker message id)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from tests.support.malformed import MALFORMED, send_raw

__all__ = ["MALFORMED", "recorded", "send_malformed"]


def send_malformed(app: Any, number: int) -> tuple[str, str]:
    """Publish the ``number``-th malformed message (the kinds in turn); its (message id,
    what it was)."""
    name, args, kwargs = MALFORMED[number % len(MALFORMED)]
    return send_raw(app, name, args, kwargs), f"{name} {str(kwargs)[:60]}"


def recorded(engine: sa.Engine, message_ids: list[str]) -> set[str]:
    """Which of ``message_ids`` left a record."""
    if not message_ids:
        return set()
    query = sa.text(
        "SELECT broker_message_id FROM tasks WHERE status = 'FAILED' AND broker_message_id IN :m "
        "UNION SELECT error_context->>'broker_message_id' FROM ai_error_logs "
        "WHERE error_context->>'broker_message_id' IN :m"
    ).bindparams(sa.bindparam("m", expanding=True))
    with engine.connect() as connection:
        return {str(r[0]) for r in connection.execute(query, {"m": message_ids})}
