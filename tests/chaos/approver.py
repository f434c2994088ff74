"""A scripted approver: decides the workflow gates of the campaign and the soak by the kind of
work each execution is (``input.kind``, see ``tests.chaos.workload``).

- ``approved``: approve;
- ``rejected``: reject the first attempt (its ``goto:`` asks the gate again), approve the next;
- ``expired``: leave the first attempt to expire (with ``expire_now``, make it due at once
  instead of waiting), approve the next;
- anything else: approve.

Decisions go as ``approvals.resolve`` messages, as another service would send them, so they
are made inside a worker (where the ``after_decision_committed`` fault point is); a decision
still pending after ``resend_after`` seconds is sent again (its worker may have died holding
the message). ``duplicate`` sends every message twice. While ``hold()`` is in force nothing is
decided.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from typing import Any

import sqlalchemy as sa

from tests.chaos.workload import APPROVER, EXPIRED, REJECTED

log = logging.getLogger(__name__)


class ScriptedApprover:
    def __init__(
        self,
        engine: sa.Engine,
        app: Any,
        *,
        expire_now: bool = True,
        duplicate: bool = False,
        resend_after: float = 5.0,
        interval: float = 0.1,
    ) -> None:
        self.engine = engine
        self.app = app
        self.expire_now = expire_now
        self.duplicate = duplicate
        self.resend_after = resend_after
        self.interval = interval
        self.errors: list[str] = []
        self._sent: dict[uuid.UUID, float] = {}
        self._expired: set[uuid.UUID] = set()
        self._running = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="scripted-approver", daemon=True)
        self._running.set()

    def start(self) -> ScriptedApprover:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(10)

    def hold(self) -> None:
        self._running.clear()

    def release(self) -> None:
        self._running.set()

    def _loop(self) -> None:
        while not self._stopping.wait(self.interval):
            if not self._running.is_set():
                continue
            try:
                self.decide_pending()
            except Exception as error:  # the database or broker may be down on purpose
                self.errors.append(f"{type(error).__name__}: {error}")
                if len(self.errors) > 1000:
                    del self.errors[:500]

    def decide_pending(self) -> None:
        with self.engine.connect() as connection:
            pending = connection.execute(
                sa.text(
                    "SELECT a.id, a.step_attempt, e.input_data->>'kind' AS kind "
                    "FROM approvals a JOIN ai_workflow_executions e "
                    "ON e.id = a.workflow_execution_id "
                    "WHERE a.status = 'pending' AND a.kind = 'workflow_step' "
                    "ORDER BY a.created_at LIMIT 200"
                )
            ).all()
        now = time.monotonic()
        for approval in pending:
            first = (approval.step_attempt or 1) == 1
            if approval.kind == EXPIRED and first:
                self._let_expire(approval.id)
                continue
            decision = "reject" if approval.kind == REJECTED and first else "approve"
            sent = self._sent.get(approval.id)
            if sent is not None and now - sent < self.resend_after:
                continue
            self._sent[approval.id] = now
            for _ in range(2 if self.duplicate else 1):
                self.app.send_task(
                    "approvals.resolve",
                    kwargs={
                        "approval_id": str(approval.id),
                        "decision": decision,
                        "user": APPROVER,
                        "comment": f"scripted: {decision} attempt {approval.step_attempt}",
                    },
                    queue="workflows",
                )

    def _let_expire(self, approval_id: uuid.UUID) -> None:
        """Make the approval due now (time compressed), so the worker's sweep expires it."""
        if not self.expire_now or approval_id in self._expired:
            return
        with self.engine.begin() as connection:
            connection.execute(
                sa.text(
                    "UPDATE approvals SET expires_at = now() - interval '1 second' "
                    "WHERE id = :a AND status = 'pending'"
                ),
                {"a": approval_id},
            )
        self._expired.add(approval_id)
