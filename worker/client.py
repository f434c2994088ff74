"""The Python client, for services that share our code.

``submit`` commits the tasks row first, then publishes only its id (the payload never crosses
the broker), so a crash in between leaves a PENDING row that the reaper re-publishes. A
duplicate idempotency key returns the existing task and publishes nothing.

    client = AgentWorkerClient.from_env(tenant="acme")
    task_id = client.submit(agent="assistant", input="Plan a venue shortlist")
    print(client.get_task(task_id).status)

Every read is scoped to one tenant (the client's, or a ``tenant=`` given to the call): a task,
execution or event of another tenant is "not found", exactly as one that does not exist.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

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
from models.tenant_scope import tenant_scope
from worker.agents.submission import Submitted, create_task
from worker.approvals.deciders import cli_principal
from worker.approvals.decisions import Decision, resolve
from worker.approvals.errors import approval_uuid
from worker.approvals.views import ApprovalView, list_approvals
from worker.core import tracing
from worker.core.contract import (
    ADVANCE_WORKFLOW,
    RUN_TASK,
    RunTaskRequest,
    StartWorkflowRequest,
    parse_payload,
)
from worker.core.errors import AgentWorkerError
from worker.core.settings import Settings, get_settings
from worker.core.tenants import resolve_tenant
from worker.durable import dispatch, event_order
from worker.durable.event_order import Cursor
from worker.durable.publishing import CeleryPublisher, Publisher, publishing_app
from worker.durable.tenant_lookup import tenant_of_approval
from worker.orchestrator import InterviewState, NotFound, answer_interview, load_interview
from worker.security.principals import Principal
from worker.security.signing import sign_kwargs as sign_kwargs  # for services that sign
from worker.workflows.advance_here import advancing_here
from worker.workflows.cancellation import Cancelled, NothingToCancel, cancel
from worker.workflows.catalog import Started, start_execution

if TYPE_CHECKING:
    from worker.agents.forks import Forked
    from worker.agents.run_steps import RunSteps, RunSummary
    from worker.workflows.forks import ForkedExecution

_tasks = Task.__table__
_executions = AIWorkflowExecution.__table__


class TaskNotFound(AgentWorkerError):
    code = "task_not_found"


class TenantRequired(AgentWorkerError):
    """A read was asked for without saying whose: reads never cross tenants."""

    code = "tenant_required"


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


class UnknownEvent(AgentWorkerError):
    """A read "after event N" where N is not an event of that task or execution."""


@dataclass(frozen=True)
class EventPage:
    """One read of a run's events in commit-safe order, with each one's cursor."""

    events: tuple[EventView, ...]
    cursors: tuple[Cursor, ...]
    #: Some committed events of the run come after these but wait for an older transaction
    #: (of any run) to end: read again; the run is not fully read yet even when final.
    held: bool = False
    #: The read stopped at its limit with more settled events after it: read again at once.
    more: bool = False

    @property
    def last(self) -> Cursor | None:
        return self.cursors[-1] if self.cursors else None


class AgentWorkerClient:
    """``tenant`` (id or slug) scopes every read and is the default tenant of submissions;
    a call's own ``tenant=`` overrides it."""

    def __init__(
        self,
        engine: sa.Engine,
        publisher: Publisher,
        settings: Settings,
        *,
        tenant: str | None = None,
    ) -> None:
        self.engine = engine
        self.publisher = publisher
        self.settings = settings
        self.tenant = tenant

    @classmethod
    def from_env(cls, tenant: str | None = None) -> AgentWorkerClient:
        """A client for DATABASE_URL and the broker (CELERY_BROKER_URL, else REDIS_URL). It
        only publishes: no worker code is loaded and no Celery signal is hooked (but, with
        tracing on, the one that puts the trace context in each message's headers)."""
        settings = get_settings()
        tracing.configure(settings)  # as OTEL_TRACES_EXPORTER says; off by default
        publisher = CeleryPublisher(publishing_app())
        return cls(create_sync_engine(settings.database_url), publisher, settings, tenant=tenant)

    def _tenant(self, tenant: str | None) -> str:
        chosen = tenant or self.tenant
        if not chosen:
            raise TenantRequired(
                "say whose data to read: build the client with a tenant "
                "(AgentWorkerClient.from_env(tenant='acme')) or pass tenant=…; "
                "on the command line, --tenant"
            )
        return chosen

    def _scoped(self, connection: sa.Connection, tenant: str | None) -> uuid.UUID:
        """The tenant's id; the rest of ``connection``'s transaction is in its scope."""
        return resolve_tenant(connection, self._tenant(tenant))

    def close(self) -> None:
        self.engine.dispose()

    def submit(
        self,
        *,
        tenant: str | None = None,
        agent: str,
        input: str | dict[str, Any],
        idempotency_key: str | None = None,
        priority: int = 0,
        metadata: dict[str, Any] | None = None,
        budget: dict[str, Any] | None = None,
    ) -> uuid.UUID:
        """Submit a job; return its task id (the existing one for a repeated key). ``budget``
        limits the run (``max_llm_calls``, ``max_tokens_total``, ``max_cost_usd``)."""
        return self.submission(
            tenant=tenant,
            agent=agent,
            input=input,
            idempotency_key=idempotency_key,
            priority=priority,
            metadata=metadata,
            budget=budget,
        ).task_id

    def submission(self, **fields: Any) -> Submitted:
        payload = {key: value for key, value in fields.items() if value is not None}
        payload["tenant"] = self._tenant(payload.get("tenant"))
        request = parse_payload(RunTaskRequest, payload)
        return submit_request(self.engine, self.publisher, self.settings, request)

    def start_workflow(
        self,
        *,
        tenant: str | None = None,
        workflow: str,
        input: str | dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> uuid.UUID:
        """Start a workflow; return its execution id (the existing one for a repeated key)."""
        fields = {
            "tenant": self._tenant(tenant),
            "workflow": workflow,
            "input": input,
            "idempotency_key": idempotency_key,
        }
        request = parse_payload(
            StartWorkflowRequest, {k: v for k, v in fields.items() if v is not None}
        )
        return start_request(self.engine, self.publisher, self.settings, request).execution_id

    def get_execution(
        self, execution_id: uuid.UUID | str, *, tenant: str | None = None
    ) -> ExecutionView:
        with self.engine.connect() as connection:
            tenant_id = self._scoped(connection, tenant)
            row = connection.execute(
                sa.select(_executions, AIWorkflow.name.label("workflow"))
                .join(AIWorkflow, AIWorkflow.id == _executions.c.workflow_id)
                .where(
                    _executions.c.id == _uuid(execution_id),
                    _executions.c.tenant_id == tenant_id,
                )
            ).one_or_none()
        if row is None:
            raise TaskNotFound(
                f"no workflow execution {execution_id} for tenant '{self._tenant(tenant)}'"
            )
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
        """The oldest ``limit`` approvals in ``statuses``, of the tenant's only."""
        with self.engine.connect() as connection:
            tenant_id = self._scoped(connection, tenant)
        with tenant_scope(tenant_id):
            return list_approvals(
                self.engine, tenant=str(tenant_id), statuses=statuses, limit=limit
            )

    def resolve_approval(
        self,
        approval_id: uuid.UUID | str,
        decision: Decision,
        *,
        user: str | None = None,
        comment: str | None = None,
        principal: Principal | None = None,
        digest: str | None = None,
        arguments: dict[str, Any] | None = None,
    ) -> ApprovalView:
        """Vote on an approval as ``user`` through ``principal``; by default the operator
        with database access (recorded as the CLI and the OS user beside ``user``).
        It is decided in the approval's own tenant's scope, whatever the client's tenant: the
        principal's tenant is what the decision checks."""
        with self.engine.connect() as connection:
            tenant_id = tenant_of_approval(connection, approval_uuid(approval_id))
        with tenant_scope(tenant_id):
            return resolve(
                self.engine,
                advancing_here(self.engine, self.publisher),
                approval_id,
                decision,
                user,
                comment,
                principal=principal or cli_principal(),
                digest=digest,
                arguments=arguments,
            )

    def answer_interview(
        self,
        interview_id: uuid.UUID | str,
        answer: Any,
        *,
        question: int | None = None,
        tenant: str | None = None,
        actor: str | None = None,
        principal: Principal | None = None,
    ) -> InterviewState:
        """Answer the interview's waiting question (``question``, when given, must be its
        number) as ``actor``, through ``principal`` (default: the operator at the CLI). An
        answer that fails the question's schema is ``InvalidAnswer`` and changes nothing."""
        principal = principal or cli_principal()
        with self.engine.begin() as connection:
            self._scoped(connection, tenant)
            answered = answer_interview(
                connection,
                _interview_uuid(interview_id),
                answer,
                principal=principal,
                actor=actor or principal.label,
                question=question,
            )
        if answered.wake is not None:
            answered.wake.send(self.publisher)
        return answered.interview

    def interview(
        self, interview_id: uuid.UUID | str, *, tenant: str | None = None
    ) -> InterviewState:
        with self.engine.begin() as connection:
            self._scoped(connection, tenant)
            return load_interview(connection, _interview_uuid(interview_id))

    def cancel(
        self,
        target_id: uuid.UUID | str,
        *,
        reason: str = "cancelled by an operator",
        tenant: str | None = None,
    ) -> Cancelled:
        """Cancel the tenant's task or workflow execution with this id; another tenant's is
        ``NothingToCancel``, as a missing one is."""
        try:
            target = _uuid(target_id)
        except TaskNotFound:
            raise NothingToCancel(f"'{target_id}' is not a task or execution id (a UUID)") from None
        with self.engine.connect() as connection:
            tenant_id = self._scoped(connection, tenant)
            owned = connection.execute(
                sa.select(_tasks.c.id)
                .where(_tasks.c.id == target, _tasks.c.tenant_id == tenant_id)
                .union_all(
                    sa.select(_executions.c.id).where(
                        _executions.c.id == target, _executions.c.tenant_id == tenant_id
                    )
                )
            ).first()
        if owned is None:
            raise NothingToCancel(
                f"no task or workflow execution {target} for tenant '{self._tenant(tenant)}'"
            )
        with tenant_scope(tenant_id):  # cancel() opens transactions of its own
            return cancel(self.engine, self.publisher, target, reason=reason)

    def runs(self, task_id: uuid.UUID | str, *, tenant: str | None = None) -> list[RunSummary]:
        """The task's agent runs, oldest first (a fork's run is in its own task)."""
        from worker.agents.run_steps import runs_of_task

        with self.engine.connect() as connection:
            tenant_id = self._scoped(connection, tenant)
            self.get_task(task_id, tenant=tenant)  # an unknown task is TaskNotFound
            return runs_of_task(connection, tenant_id, _uuid(task_id))

    def run_steps(self, run_id: uuid.UUID | str, *, tenant: str | None = None) -> RunSteps:
        """An agent run with its conversation split into numbered steps
        (``worker.agents.run_steps``: what ``fork_run``'s ``at_step`` counts)."""
        from worker.agents.run_steps import run_steps, run_uuid

        with self.engine.connect() as connection:
            tenant_id = self._scoped(connection, tenant)
            return run_steps(connection, tenant_id, run_uuid(run_id))

    def fork_run(
        self,
        run_id: uuid.UUID | str,
        *,
        at_step: int,
        edit_message: Any = None,
        tenant: str | None = None,
    ) -> Forked:
        """A new run whose conversation is run ``run_id``'s up to step ``at_step`` (edited as
        ``edit_message`` says: ``{"seq"?, "content"}`` or a list of them), driven from there."""
        from worker.agents.forks import fork_and_publish, parse_edits

        edits = parse_edits(edit_message) if edit_message is not None else []
        return fork_and_publish(
            self.engine,
            self.publisher,
            self.settings,
            self._tenant(tenant),
            run_id,
            at_step=at_step,
            edits=edits,
        )

    def replay_run(self, run_id: uuid.UUID | str, *, tenant: str | None = None) -> Forked:
        """A FAILED run run again from its last good step, as a new run."""
        from worker.agents.forks import fork_and_publish

        return fork_and_publish(
            self.engine, self.publisher, self.settings, self._tenant(tenant), run_id, at_step=None
        )

    def fork_execution(
        self, execution_id: uuid.UUID | str, *, at: str, tenant: str | None = None
    ) -> ForkedExecution:
        """A new execution of the workflow from step ``at`` (its number from 1, or its key),
        with the earlier steps' outputs copied from ``execution_id``."""
        from worker.workflows.forks import ExecutionFork, fork_execution

        try:
            target = uuid.UUID(str(execution_id))
        except ValueError:
            raise ExecutionFork(
                f"'{execution_id}' is not a workflow execution id (a UUID)",
                code="execution_not_found",
            ) from None
        with self.engine.begin() as connection:
            tenant_id = self._scoped(connection, tenant)
            forked = fork_execution(connection, tenant_id, target, str(at))
        self.publisher.publish(ADVANCE_WORKFLOW, {"execution_id": str(forked.execution_id)})
        return forked

    def get_task(self, task_id: uuid.UUID | str, *, tenant: str | None = None) -> TaskView:
        with self.engine.connect() as connection:
            tenant_id = self._scoped(connection, tenant)
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
                ).where(_tasks.c.id == _uuid(task_id), _tasks.c.tenant_id == tenant_id)
            ).one_or_none()
        if row is None:
            raise TaskNotFound(f"no task {task_id} for tenant '{self._tenant(tenant)}'")
        return TaskView(**{**row._mapping, "status": TaskStatus(row.status)})

    def events(
        self,
        task_id: uuid.UUID | str,
        *,
        after: int = 0,
        tenant: str | None = None,
        limit: int | None = None,
    ) -> list[EventView]:
        """A task's events, or a workflow execution's (its own and its steps' tasks'): the
        tenant's only, in commit-safe order (``worker.durable.event_order``: ids are unique
        but not always increasing); the first ``limit`` after event ``after`` (an id one of
        these reads returned; 0: from the start) when given. Raises ``UnknownEvent`` for an
        ``after`` that is not such an event."""
        return list(self.event_page(task_id, after=after, tenant=tenant, limit=limit).events)

    def event_cursor(
        self, task_id: uuid.UUID | str, event_id: int, *, tenant: str | None = None
    ) -> Cursor:
        """Where a read "after event ``event_id``" of this task or execution goes on from
        (``event_order.START`` for 0); ``UnknownEvent`` when it is not one of its events."""
        target = _uuid(task_id)
        with self.engine.connect() as connection:
            tenant_id = self._scoped(connection, tenant)
            return _cursor(connection, target, event_id, _events_of(target, tenant_id))

    def event_page(
        self,
        task_id: uuid.UUID | str,
        *,
        after: int | Cursor = 0,
        tenant: str | None = None,
        limit: int | None = None,
    ) -> EventPage:
        """``events`` with each event's cursor and whether committed events are held back
        (``EventPage``); ``after`` is an event id or a cursor this method returned."""
        target = _uuid(task_id)
        with self.engine.connect() as connection:
            tenant_id = self._scoped(connection, tenant)
            mine = _events_of(target, tenant_id)
            start = after if isinstance(after, Cursor) else _cursor(connection, target, after, mine)
            # Settled rows sort before unsettled ones, so the settled ones of a read in
            # commit-safe order are its first rows; one more row says whether any is held.
            rows = connection.execute(
                sa.select(
                    EventLog.id,
                    EventLog.created_at,
                    EventLog.event_type,
                    EventLog.agent_role,
                    EventLog.content,
                    EventLog.data,
                    event_order.WRITER.label("writer"),
                    event_order.settled().label("settled"),
                )
                .where(mine, event_order.after(start))
                .order_by(*event_order.ORDER)
                .limit(None if limit is None else limit + 1)
            ).all()
        taken = [row for row in rows if row.settled][:limit]
        return EventPage(
            tuple(EventView(**_view_fields(row)) for row in taken),
            tuple(event_order.Cursor(int(row.writer), row.id) for row in taken),
            held=any(not row.settled for row in rows),
            more=limit is not None and len(rows) > limit and bool(rows[limit].settled),
        )


def _events_of(target: uuid.UUID, tenant_id: uuid.UUID) -> sa.ColumnElement[bool]:
    """The events of task ``target``, or of execution ``target`` and its steps' tasks."""
    steps = sa.select(_tasks.c.id).where(
        _tasks.c.workflow_execution_id == target, _tasks.c.tenant_id == tenant_id
    )
    return sa.and_(
        sa.or_(
            EventLog.task_id == target,
            EventLog.workflow_execution_id == target,
            EventLog.task_id.in_(steps),
        ),
        EventLog.tenant_id == tenant_id,
    )


def _cursor(
    connection: sa.Connection, target: uuid.UUID, event_id: int, mine: sa.ColumnElement[bool]
) -> Cursor:
    found = event_order.cursor_of(connection, event_id, mine)
    if found is None:
        raise UnknownEvent(
            f"no event {event_id} of {target}: resume with an id this stream sent (or 0 for "
            "the start)"
        )
    return found


def _view_fields(row: Any) -> dict[str, Any]:
    fields = dict(row._mapping)
    del fields["writer"], fields["settled"]
    return fields


def submit_request(
    engine: sa.Engine,
    publisher: Publisher,
    settings: Settings,
    request: RunTaskRequest,
    *,
    channel: str = "client",
    trace_carrier: Mapping[str, str] | None = None,
) -> Submitted:
    """Commit the task row (or find the one with the request's idempotency key), then publish
    only its id, and only when it was created and its tenant's window let it through (else it
    is held, and released as the tenant's tasks in flight finish): the one way in for the
    client and the API (``channel``; ``trace_carrier``: the HTTP request's headers, whose
    traceparent the submission's span continues)."""
    with tracing.submission(
        RUN_TASK, channel=channel, tenant=request.tenant, agent=request.agent, carrier=trace_carrier
    ) as span:
        with engine.begin() as connection:
            submitted = create_task(
                connection,
                settings,
                request,
                idempotency_key=request.idempotency_key,
                admission=True,
            )
        tracing.annotate(
            span,
            agentworker__task__id=str(submitted.task_id),
            agentworker__task__created=submitted.created,
            agentworker__task__held=not submitted.released,
        )
        dispatch.publish_releases(publisher, submitted.releases)
    return submitted


def start_request(
    engine: sa.Engine, publisher: Publisher, settings: Settings, request: StartWorkflowRequest
) -> Started:
    """Commit the execution (or find the one with the request's idempotency key), then
    publish only its id, and only when it was created: for the client and the API."""
    with engine.begin() as connection:
        started = start_execution(
            connection,
            tenant=request.tenant,
            workflow=request.workflow,
            input=request.input,
            idempotency_key=request.idempotency_key,
            max_input_bytes=settings.max_input_bytes,
        )
    if started.created:
        publisher.publish(ADVANCE_WORKFLOW, {"execution_id": str(started.execution_id)})
    return started


def _uuid(value: uuid.UUID | str) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(value)
    except ValueError:
        raise TaskNotFound(f"'{value}' is not a task id (a UUID)") from None


def _interview_uuid(value: uuid.UUID | str) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound(
            f"'{value}' is not an interview id (a UUID); list them with "
            "`agentworker interviews list --tenant T`"
        ) from None
