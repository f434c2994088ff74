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

from models import (
    AIWorkflow,
    AIWorkflowExecution,
    ApprovalStatus,
    EventLog,
    EventType,
    ExecutionStatus,
    Task,
    TaskStatus,
)
from models.db import create_sync_engine
from worker.agents.submission import Submitted, create_task
from worker.approvals.decisions import Decision, resolve
from worker.approvals.views import ApprovalView, list_approvals
from worker.core.contract import (
    ADVANCE_WORKFLOW,
    RUN_TASK,
    RunTaskRequest,
    StartWorkflowRequest,
    parse_payload,
)
from worker.core.errors import AgentWorkerError
from worker.core.settings import Settings, get_settings
from worker.durable.publishing import CeleryPublisher, Publisher, publishing_app
from worker.workflows.cancellation import Cancelled, cancel
from worker.workflows.catalog import start_execution

_tasks = Task.__table__
_executions = AIWorkflowExecution.__table__


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
class ExecutionView:
    id: uuid.UUID
    workflow: str
    version: int
    status: ExecutionStatus
    current_step: str | None
    steps: dict[str, Any]
    output: dict[str, Any]
    error: dict[str, Any] | None
    started_at: datetime
    completed_at: datetime | None

    @property
    def done(self) -> bool:
        return self.status in (
            ExecutionStatus.COMPLETED,
            ExecutionStatus.FAILED,
            ExecutionStatus.CANCELLED,
        )


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
        """A client for DATABASE_URL and the broker (CELERY_BROKER_URL, else REDIS_URL). It
        only publishes: no worker code is loaded and no Celery signal is hooked."""
        settings = get_settings()
        publisher = CeleryPublisher(publishing_app())
        return cls(create_sync_engine(settings.database_url), publisher, settings)

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

    def start_workflow(
        self,
        *,
        tenant: str,
        workflow: str,
        input: str | dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> uuid.UUID:
        """Start a workflow; return its execution id (the existing one for a repeated key)."""
        fields = {
            "tenant": tenant,
            "workflow": workflow,
            "input": input,
            "idempotency_key": idempotency_key,
        }
        request = parse_payload(
            StartWorkflowRequest, {k: v for k, v in fields.items() if v is not None}
        )
        with self.engine.begin() as connection:
            started = start_execution(
                connection,
                tenant=request.tenant,
                workflow=request.workflow,
                input=request.input,
                idempotency_key=request.idempotency_key,
            )
        if started.created:
            self.publisher.publish(ADVANCE_WORKFLOW, {"execution_id": str(started.execution_id)})
        return started.execution_id

    def get_execution(self, execution_id: uuid.UUID | str) -> ExecutionView:
        with self.engine.connect() as connection:
            row = connection.execute(
                sa.select(_executions, AIWorkflow.name.label("workflow"))
                .join(AIWorkflow, AIWorkflow.id == _executions.c.workflow_id)
                .where(_executions.c.id == _uuid(execution_id))
            ).one_or_none()
        if row is None:
            raise TaskNotFound(f"no workflow execution {execution_id}")
        return ExecutionView(
            id=row.id,
            workflow=row.workflow,
            version=row.workflow_version,
            status=ExecutionStatus(row.status),
            current_step=row.current_step,
            steps=row.step_states,
            output=row.output_data,
            error=row.error_log or None,
            started_at=row.started_at,
            completed_at=row.completed_at,
        )

    def approvals(
        self,
        *,
        tenant: str | None = None,
        statuses: tuple[ApprovalStatus, ...] = (ApprovalStatus.PENDING,),
        limit: int = 100,
    ) -> list[ApprovalView]:
        """The oldest ``limit`` approvals in ``statuses``."""
        return list_approvals(self.engine, tenant=tenant, statuses=statuses, limit=limit)

    def resolve_approval(
        self,
        approval_id: uuid.UUID | str,
        decision: Decision,
        *,
        user: str,
        comment: str | None = None,
    ) -> ApprovalView:
        return resolve(self.engine, self.publisher, approval_id, decision, user, comment)

    def cancel(
        self, target_id: uuid.UUID | str, *, reason: str = "cancelled by an operator"
    ) -> Cancelled:
        return cancel(self.engine, self.publisher, target_id, reason=reason)

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
        """A task's events, or a workflow execution's (its own and its steps' tasks')."""
        target = _uuid(task_id)
        steps = sa.select(_tasks.c.id).where(_tasks.c.workflow_execution_id == target)
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
                .where(
                    sa.or_(
                        EventLog.task_id == target,
                        EventLog.workflow_execution_id == target,
                        EventLog.task_id.in_(steps),
                    ),
                    EventLog.id > after,
                )
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
