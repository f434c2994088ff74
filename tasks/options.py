"""Options every task that writes to the database shares: retried, with backoff and jitter,
while the database is unreachable; acked only once handled (DESIGN §5.2)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.exc import InterfaceError, OperationalError

RETRY_ON_DATABASE_ERRORS: dict[str, Any] = {
    "acks_late": True,
    "autoretry_for": (OperationalError, InterfaceError),  # the database is unreachable
    "retry_backoff": 2,
    "retry_backoff_max": 60,
    "retry_jitter": True,
    "max_retries": 10,
}
