"""How long each fault stalls work: at the fault, the tasks and executions in flight are
noted; the fault has been recovered from once every one of them has ended, reached a person,
or (an execution) moved on. A monitor thread polls the database twice a second."""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from dataclasses import dataclass, field

import sqlalchemy as sa


@dataclass
class Fault:
    name: str
    at: float  # time.monotonic()
    tasks: set[uuid.UUID]
    executions: dict[uuid.UUID, object]  # id -> updated_at at the fault
    recovered_at: float | None = None
    #: What was still stuck at the last look before it recovered: the slowest to come back.
    last_stuck: list[uuid.UUID] = field(default_factory=list)

    @property
    def seconds(self) -> float | None:
        return None if self.recovered_at is None else self.recovered_at - self.at


@dataclass
class RecoveryClock:
    engine: sa.Engine
    faults: list[Fault] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stopping: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="recovery-clock", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(10)

    def fault(self, name: str) -> None:
        """Note what is in flight now, just before fault ``name`` is thrown."""
        tasks: set[uuid.UUID] = set()
        executions: dict[uuid.UUID, object] = {}
        with contextlib.suppress(sa.exc.SQLAlchemyError), self.engine.connect() as connection:
            tasks = set(
                connection.execute(
                    sa.text("SELECT id FROM tasks WHERE status IN ('PENDING', 'RUNNING')")
                ).scalars()
            )
            executions = {
                row.id: row.updated_at
                for row in connection.execute(
                    sa.text(
                        "SELECT id, updated_at FROM ai_workflow_executions "
                        "WHERE status IN ('pending', 'running')"
                    )
                )
            }
        with self._lock:
            self.faults.append(Fault(name, time.monotonic(), tasks, executions))

    def _loop(self) -> None:
        while not self._stopping.wait(0.5):
            with contextlib.suppress(sa.exc.SQLAlchemyError):
                self._check()

    def _check(self) -> None:
        with self._lock:
            open_faults = [f for f in self.faults if f.recovered_at is None]
        if not open_faults:
            return
        task_ids = list(set().union(*(f.tasks for f in open_faults)))
        execution_ids = list(set().union(*(f.executions for f in open_faults)))
        with self.engine.connect() as connection:
            stuck_tasks = set(
                connection.execute(
                    sa.text(
                        "SELECT id FROM tasks WHERE id = ANY(:ids) "
                        "AND status IN ('PENDING', 'RUNNING')"
                    ),
                    {"ids": task_ids},
                ).scalars()
            )
            executions = {
                row.id: row
                for row in connection.execute(
                    sa.text(
                        "SELECT id, status, updated_at FROM ai_workflow_executions "
                        "WHERE id = ANY(:ids)"
                    ),
                    {"ids": execution_ids},
                )
            }
        now = time.monotonic()
        for fault in open_faults:
            stuck = [t for t in fault.tasks if t in stuck_tasks] + [
                e
                for e, updated_at in fault.executions.items()
                if e in executions
                and executions[e].status in ("pending", "running")
                and executions[e].updated_at == updated_at
            ]
            if stuck:
                fault.last_stuck = stuck[:5]
            else:
                fault.recovered_at = now
