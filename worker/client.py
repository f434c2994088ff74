"""The Python client, for services that share our code.

``submit`` commits the tasks row first, then publishes only its id (the payload never crosses
the broker), so a crash in between leaves a PENDING row that the reaper re-publishes. A
duplicate idempotency key returns the existing task and publishes nothing.

    client = AgentWorkerClient.from_env()
    task_id = client.submit(tenant="acme", agent="assistant", input="Plan a venue shortlist")
    print(client.get_task(task_id).status)
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from models import EventLog, EventType, Task, TaskStatus
from models.db import create_sync_engine
from worker.contract import RUN_TASK, RunTaskRequest, parse_payload
from worker.errors import AgentWorkerError
from worker.runtime import CeleryPublisher, Publisher
from worker.settings import Settings, get_settings
from worker.submission import Submitted, create_task

_tasks = Task.__table__


class TaskNotFound(AgentWorkerError):
    code = "task_not_found"


@dataclass(frozen=True)
class TaskView:
    id: uuid.UUID
    tenant_id: uuid.UUID
    status: TaskStatus
    agent_name: str | None
    title: str | None
    result: Any
    result_summary: str | None
    error: str | None
    error_code: str | None
    attempts: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @property
    def done(self) -> bool:
        return self.status in (TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELLED)


@dataclass(frozen=True)
class EventView:
    id: int
    created_at: datetime
    event_type: EventType
    agent_role: str | None
    content: str | None
    data: dict[str, Any] | None


class AgentWorkerClient:
    def __init__(self, engine: sa.Engine, publisher: Publisher, settings: Settings) -> None:
        self.engine = engine
        self.publisher = publisher
        self.settings = settings

    @classmethod
    def from_env(cls) -> AgentWorkerClient:
        from worker.app import app

        settings = get_settings()
        return cls(create_sync_engine(settings.database_url), CeleryPublisher(app), settings)

    def close(self) -> None:
        self.engine.dispose()

    def submit(
        self,
        *,
        tenant: str,
        agent: str,
        input: str | dict[str, Any],
        idempotency_key: str | None = None,
        priority: int = 0,
        metadata: dict[str, Any] | None = None,
    ) -> uuid.UUID:
        """Submit a job; return its task id (the existing one for a repeated key)."""
        return self.submission(
            tenant=tenant,
            agent=agent,
            input=input,
            idempotency_key=idempotency_key,
            priority=priority,
            metadata=metadata,
        ).task_id

    def submission(self, **fields: Any) -> Submitted:
        payload = {key: value for key, value in fields.items() if value is not None}
        request = parse_payload(RunTaskRequest, payload)
        with self.engine.begin() as connection:
            submitted = create_task(
                connection, self.settings, request, idempotency_key=request.idempotency_key
            )
        if submitted.created:
            self.publisher.publish(
                RUN_TASK,
                {"task_id": str(submitted.task_id)},
                task_id=str(submitted.task_id),
                priority=request.priority,
            )
        return submitted

    def get_task(self, task_id: uuid.UUID | str) -> TaskView:
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(
                    _tasks.c.id,
                    _tasks.c.tenant_id,
                    _tasks.c.status,
                    _tasks.c.agent_name,
                    _tasks.c.title,
                    _tasks.c.result,
                    _tasks.c.result_summary,
                    _tasks.c.error,
                    _tasks.c.error_code,
                    _tasks.c.attempts,
                    _tasks.c.created_at,
                    _tasks.c.started_at,
                    _tasks.c.finished_at,
                ).where(_tasks.c.id == _uuid(task_id))
            ).one_or_none()
        if row is None:
            raise TaskNotFound(f"no task {task_id}")
        return TaskView(**{**row._mapping, "status": TaskStatus(row.status)})

    def events(self, task_id: uuid.UUID | str, *, after: int = 0) -> list[EventView]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(
                    EventLog.id,
                    EventLog.created_at,
                    EventLog.event_type,
                    EventLog.agent_role,
                    EventLog.content,
                    EventLog.data,
                )
                .where(EventLog.task_id == _uuid(task_id), EventLog.id > after)
                .order_by(EventLog.id)
            ).all()
        return [EventView(**row._mapping) for row in rows]


def _uuid(value: uuid.UUID | str) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(value)
    except ValueError:
        raise TaskNotFound(f"'{value}' is not a task id (a UUID)") from None
