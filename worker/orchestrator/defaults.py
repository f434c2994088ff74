"""The pipeline's defaults in ``system_settings``: a tenant's row wins over the system-wide
row (``tenant_id`` NULL), which wins over the built-in default."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from models import SystemSetting

_settings = SystemSetting.__table__

#: Every key the pipeline reads, with its built-in default and what it means.
DEFAULTS: dict[str, tuple[Any, str]] = {
    "orchestrator.interview.first_question": (
        "What should this project do, and for whom?",
        "the interview's first question when its step names none",
    ),
    "orchestrator.interview.max_questions": (
        3,
        "questions an interview asks at most when its step names no number",
    ),
    "orchestrator.board.cards_per_run": (
        1,
        "cards of the backlog one board step works when it names no number",
    ),
    "orchestrator.commit.author": ("AI System", "the author written on the pipeline's commits"),
}


def setting(connection: sa.Connection, tenant_id: uuid.UUID, key: str) -> Any:
    """The value of ``key`` for ``tenant_id``: its own row, else the system-wide one, else the
    built-in default."""
    default, _ = DEFAULTS[key]
    value = connection.execute(
        sa.select(_settings.c.value)
        .where(
            _settings.c.key == key,
            sa.or_(_settings.c.tenant_id == tenant_id, _settings.c.tenant_id.is_(None)),
        )
        .order_by(_settings.c.tenant_id.is_(None))
        .limit(1)
    ).scalar_one_or_none()
    return default if value is None else value
