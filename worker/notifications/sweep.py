"""The delivery sweep (Celery beat, every ``AGENTWORKER_NOTIFICATION_SWEEP_INTERVAL_SECONDS``):
every webhook delivery that is due and every email row waiting to be sent, across tenants, each
attempted inside its own tenant's scope.

It is what sends new deliveries (the outbox rows the database wrote with a state change), the
retries whose backoff has passed, and the work of a worker that died mid-attempt (its hold has
run out). Taking a row is guarded, so two sweeps, or a sweep and a delivery task, never send
the same attempt twice.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import sqlalchemy as sa

from models.tenant_scope import tenant_scope
from worker.core.settings import Settings
from worker.notifications.emails import NOT_CONFIGURED, deliver_email
from worker.notifications.webhooks import deliver_webhook
from worker.security.encryption import SecretBox

__all__ = ["DueItem", "SweepReport", "due_items", "sweep"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DueItem:
    kind: str  # "webhook" or "email"
    item_id: uuid.UUID
    tenant_id: uuid.UUID


@dataclass(frozen=True)
class SweepReport:
    outcomes: dict[str, int] = field(default_factory=dict)
    #: Email rows left PENDING because no SMTP server is configured.
    emails_waiting_for_smtp: int = 0


def due_items(engine: sa.Engine, *, batch: int, with_emails: bool) -> list[DueItem]:
    """What is due now, across tenants (ids only: ``agentworker_due_notifications``)."""
    with engine.begin() as connection:
        rows = connection.execute(
            sa.text("SELECT kind, item_id, tenant_id FROM agentworker_due_notifications(:b, :e)"),
            {"b": batch, "e": with_emails},
        ).all()
    return [DueItem(*row) for row in rows]


def sweep(
    engine: sa.Engine,
    settings: Settings,
    *,
    batch: int = 200,
    parallel: int = 8,
    box: SecretBox | None = None,
) -> SweepReport:
    """Attempt everything due (up to ``batch`` of each kind), ``parallel`` at a time."""
    with_emails = bool(settings.smtp_url)
    items = due_items(engine, batch=batch, with_emails=with_emails)
    waiting = 0 if with_emails else _emails_waiting(engine)
    _say_emails_wait(waiting)
    if not items:
        return SweepReport({}, waiting)
    if box is None and any(item.kind == "webhook" for item in items):
        box = SecretBox.from_settings(settings)

    def attempt(item: DueItem) -> str:
        with tenant_scope(item.tenant_id):
            if item.kind == "webhook":
                assert box is not None
                return f"webhook {deliver_webhook(engine, settings, box, item.item_id).outcome}"
            return f"email {deliver_email(engine, settings, item.item_id).outcome}"

    outcomes: dict[str, int] = {}
    for outcome in _map(attempt, items, parallel):
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return SweepReport(outcomes, waiting)


def _map(attempt: Callable[[DueItem], str], items: list[DueItem], parallel: int) -> list[str]:
    if parallel <= 1 or len(items) == 1:
        return [_safely(attempt, item) for item in items]
    with ThreadPoolExecutor(max_workers=min(parallel, len(items))) as pool:
        return list(pool.map(lambda item: _safely(attempt, item), items))


def _safely(attempt: Callable[[DueItem], str], item: DueItem) -> str:
    """One item's failure (its database row, its secret) must not stop the others."""
    try:
        return attempt(item)
    except Exception:
        log.exception(
            "notification attempt failed",
            extra={"kind": item.kind, "item": str(item.item_id), "tenant": str(item.tenant_id)},
        )
        return f"{item.kind} error"


#: (count, monotonic time) of the last warning that emails wait for an SMTP server.
_last_warning: list[tuple[int, float]] = []
_WARN_EVERY_SECONDS = 600.0


def _say_emails_wait(waiting: int) -> None:
    """Warn that emails wait for AGENTWORKER_SMTP_URL when their number changes, and every
    ten minutes while it does not (not at every sweep)."""
    if not waiting:
        _last_warning.clear()
        return
    now = time.monotonic()
    last = _last_warning[0] if _last_warning else None
    if last is not None and last[0] == waiting and now - last[1] < _WARN_EVERY_SECONDS:
        return
    _last_warning[:] = [(waiting, now)]
    log.warning(NOT_CONFIGURED, extra={"emails_pending": waiting, "action": "email"})


def _emails_waiting(engine: sa.Engine) -> int:
    with engine.begin() as connection:
        return len(
            connection.execute(
                sa.text(
                    "SELECT 1 FROM agentworker_due_notifications(:b, true) WHERE kind = 'email'"
                ),
                {"b": 1000},
            ).all()
        )
