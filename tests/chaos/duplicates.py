"""Every message delivered twice: a thread that watches the database and publishes a second
copy of each message the client and the workers publish.

A message here is "run this task" (one per task row), "advance this execution" (one per move
of an execution: its status, step or last update changed) and, with the scripted approver's
``duplicate``, every decision. The copies go through the broker like any redelivery would.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any

import sqlalchemy as sa

from worker.core.contract import ADVANCE_WORKFLOW, RUN_TASK


class Duplicator:
    def __init__(self, engine: sa.Engine, app: Any, *, interval: float = 0.1) -> None:
        self.engine = engine
        self.app = app
        self.interval = interval
        self.sent = 0
        self.errors: list[str] = []
        self._tasks: set[uuid.UUID] = set()
        self._executions: dict[uuid.UUID, tuple[Any, ...]] = {}
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="duplicator", daemon=True)

    def start(self) -> Duplicator:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(10)

    def _loop(self) -> None:
        while not self._stopping.wait(self.interval):
            try:
                self._duplicate_new_messages()
            except Exception as error:  # keep duplicating through faults
                self.errors.append(f"{type(error).__name__}: {error}")

    def _duplicate_new_messages(self) -> None:
        with self.engine.connect() as connection:
            tasks = connection.execute(sa.text("SELECT id FROM tasks")).scalars().all()
            executions = connection.execute(
                sa.text("SELECT id, status, current_step, updated_at FROM ai_workflow_executions")
            ).all()
        for task_id in tasks:
            if task_id not in self._tasks:
                self._tasks.add(task_id)
                self._send(RUN_TASK, {"task_id": str(task_id)}, "agents")
        for row in executions:
            state = (row.status, row.current_step, row.updated_at)
            if self._executions.get(row.id) != state:
                self._executions[row.id] = state
                self._send(ADVANCE_WORKFLOW, {"execution_id": str(row.id)}, "workflows")

    def _send(self, name: str, kwargs: dict[str, str], queue: str) -> None:
        self.app.send_task(name, kwargs=kwargs, queue=queue)
        self.sent += 1
