"""What each Celery task does, as plain functions of (runtime, payload, message id)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

from models import ErrorSeverity, TaskStatus
from models.tenant_scope import current_tenant
from worker.agents.definitions import UnknownAgent
from worker.agents.knowledge import ingest
from worker.agents.runner import Outcome, execute_task
from worker.agents.runtime import Runtime
from worker.agents.submission import InputTooLarge, create_task, message_key, record_rejected
from worker.app.authentication import authenticate
from worker.approvals.decisions import resolve
from worker.approvals.errors import ApprovalError
from worker.approvals.outcomes import record_refusal
from worker.core.contract import (
    INGEST_KNOWLEDGE,
    RESOLVE_APPROVAL,
    RUN_TASK,
    START_WORKFLOW,
    ExecutionReference,
    IngestKnowledgeRequest,
    InvalidPayload,
    ResolveApprovalRequest,
    RunTaskRequest,
    StartWorkflowRequest,
    TaskReference,
    parse_payload,
)
from worker.core.errors import AgentWorkerError
from worker.core.limits import storable
from worker.core.tenants import UnknownTenant, tenant_named_by
from worker.durable import dispatch, faults, records
from worker.durable.tenant_lookup import tenant_of_approval
from worker.security.credentials import Unauthenticated
from worker.workflows.advance_here import advance_or_fail, advancing_here
from worker.workflows.catalog import UnknownWorkflow, start_execution
from worker.workflows.definition import InvalidWorkflow
from worker.workflows.engine import advance

log = logging.getLogger(__name__)


def handle_run_task(runtime: Runtime, payload: Mapping[str, Any], message_id: str) -> Outcome:
    """``agents.run_task``: a task reference from our client or reaper, or a full request
    from a foreign service (then the worker creates the task row itself)."""
    if set(payload) == {"task_id"}:
        reference = parse_payload(TaskReference, payload)
        return execute_task(runtime, reference.task_id)
    try:
        request = parse_payload(RunTaskRequest, payload)
        authenticate(runtime, RUN_TASK, payload, message_id)
        # Only the broker knows of this job until its row commits (its message comes back if
        # this worker dies now: defect 16, tests/e2e/test_recovery.py).
        faults.fault_point(faults.AFTER_SUBMISSION_RECEIVED, runtime.settings.fault_point)
        with runtime.engine.begin() as connection:
            submitted = create_task(
                connection,
                runtime.settings,
                request,
                idempotency_key=request.idempotency_key or message_key(message_id),
                broker_message_id=message_id,
                admission=True,
            )
    except (InvalidPayload, UnknownTenant, UnknownAgent, InputTooLarge, Unauthenticated) as error:
        return _reject(runtime, payload, error, message_id)
    # Through its tenant's window like any submission: released, this delivery runs it; held,
    # the message is done with (the row is committed) and a release publishes its id later.
    dispatch.publish_releases(
        runtime.publisher, [r for r in submitted.releases if r.task_id != submitted.task_id]
    )
    if not submitted.released:
        return Outcome(
            submitted.task_id, "held", "held behind its tenant's tasks in flight (fair dispatch)"
        )
    if not submitted.created and submitted.status != TaskStatus.PENDING:
        return Outcome(
            submitted.task_id,
            "skipped",
            f"duplicate submission of task {submitted.task_id} ({submitted.status})",
        )
    return execute_task(runtime, submitted.task_id)


def _reject(
    runtime: Runtime, payload: Mapping[str, Any], error: AgentWorkerError, message_id: str
) -> Outcome:
    with runtime.engine.begin() as connection:
        rejected = record_rejected(connection, payload, error, broker_message_id=message_id)
    log.warning("rejected %s: %s", message_id, error)
    task_id = rejected.task_id if rejected is not None else uuid.UUID(int=0)
    return Outcome(task_id, "failed", str(error))


def handle_start_workflow(
    runtime: Runtime, payload: Mapping[str, Any], message_id: str
) -> dict[str, str]:
    """``workflows.start``: create the execution (once per idempotency key) and advance it."""
    try:
        request = parse_payload(StartWorkflowRequest, payload)
        authenticate(runtime, START_WORKFLOW, payload, message_id)
        with runtime.engine.begin() as connection:
            started = start_execution(
                connection,
                tenant=request.tenant,
                workflow=request.workflow,
                input=request.input,
                idempotency_key=request.idempotency_key or message_key(message_id),
                max_input_bytes=runtime.settings.max_input_bytes,
            )
    except (
        InvalidPayload,
        UnknownTenant,
        UnknownWorkflow,
        UnknownAgent,
        InvalidWorkflow,
        Unauthenticated,
        InputTooLarge,
    ) as error:
        _keep_rejected_start(runtime, payload, error, message_id)
        return {"status": "rejected", "error": str(error)}
    status = advance(runtime.engine, runtime.publisher, started.execution_id)
    return {"execution_id": str(started.execution_id), "status": status}


def handle_advance_workflow(runtime: Runtime, payload: Mapping[str, Any]) -> dict[str, str]:
    """``workflows.advance``: an error that is not the database's (an agent that no longer
    exists, a bad template) would recur on every retry and every reaper pass: it fails the
    execution, with the error as its reason."""
    execution_id = parse_payload(ExecutionReference, payload).execution_id
    status = advance_or_fail(runtime.engine, runtime.publisher, execution_id)
    return {"execution_id": str(execution_id), "status": status}


def advance_here(runtime: Runtime, execution_id: uuid.UUID) -> None:
    """A step's task ended in this process: advance its execution here, as the
    ``workflows.advance`` message would (its errors fail the execution the same way); the
    database or broker being unreachable is raised, so the caller publishes the message."""
    handle_advance_workflow(runtime, {"execution_id": str(execution_id)})


def handle_resolve_approval(
    runtime: Runtime, payload: Mapping[str, Any], message_id: str | None = None
) -> dict[str, str]:
    """``approvals.resolve``: refusals and late decisions are answered, never retried, and
    recorded where the sender can read them (audit_logs, or ai_error_logs when there is no
    such approval), with the message they answer."""
    request = parse_payload(ResolveApprovalRequest, payload)
    tenant_id = current_tenant()  # the task layer scoped the message to the approval's tenant
    if tenant_id is None:  # called directly, or the approval does not exist
        with runtime.engine.connect() as connection:
            tenant_id = tenant_of_approval(connection, request.approval_id)
    try:
        principal = (
            authenticate(runtime, RESOLVE_APPROVAL, payload, message_id, tenant_id=tenant_id)
            if tenant_id is not None
            else None
        )
    except Unauthenticated as error:  # audited by the verification
        log.warning("approval %s not resolved: %s", request.approval_id, error)
        return {
            "approval_id": str(request.approval_id),
            "status": "refused",
            "code": error.code,
            "reason": str(error),
        }
    try:
        view = resolve(
            runtime.engine,
            advancing_here(runtime.engine, runtime.publisher),
            request.approval_id,
            request.decision,
            request.user,
            request.comment,
            principal=principal,
            digest=request.digest,
            arguments=request.arguments,
        )
    except ApprovalError as error:
        log.warning("approval %s not resolved: %s", request.approval_id, error)
        record_refusal(runtime.engine, request, error, message_id, principal=principal)
        return {
            "approval_id": str(request.approval_id),
            "status": "refused",
            "code": error.code,
            "reason": str(error),
        }
    return {"approval_id": str(view.id), "status": view.status.value}


def handle_ingest_knowledge(
    runtime: Runtime, payload: Mapping[str, Any], message_id: str | None
) -> dict[str, Any]:
    """``knowledge.ingest``: add a document; a refused signature is kept in ai_error_logs
    (``knowledge_ingest.<code>``) and in audit_logs, and answered, never retried."""
    request = parse_payload(IngestKnowledgeRequest, payload)
    try:
        authenticate(runtime, INGEST_KNOWLEDGE, payload, message_id)
    except Unauthenticated as error:
        _keep_rejected_start(runtime, payload, error, message_id, kind="knowledge_ingest")
        return {"status": "rejected", "code": error.code, "error": str(error)}
    result = ingest(runtime.engine, runtime.settings, runtime.gateway, request)
    return {"source_id": str(result.source_id), "created": result.created, "chunks": result.chunks}


def _keep_rejected_start(
    runtime: Runtime,
    payload: Mapping[str, Any],
    error: AgentWorkerError,
    message_id: str | None,
    *,
    kind: str = "workflow_start",
) -> None:
    with runtime.engine.begin() as connection:
        tenant_id = tenant_named_by(connection, payload)
        records.write(
            connection,
            errors=[
                records.error_log(
                    records.Scope(tenant_id=tenant_id),
                    error_type=f"{kind}.{error.code}",
                    message=str(error),
                    severity=ErrorSeverity.HIGH,
                    context={
                        "broker_message_id": message_id,
                        "payload": records.scrub(storable(dict(payload), error)),
                    },
                )
            ],
        )
