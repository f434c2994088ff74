"""The workflow catalog: definitions saved and versioned, and executions started.

Steps are validated when saved and every save is a new frozen version; an execution pins the
version it started with, so editing a workflow never changes running executions.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from models import (
    AIWorkflow,
    AIWorkflowExecution,
    AIWorkflowVersion,
    EventType,
    ExecutionStatus,
    WorkflowStatus,
    WorkflowType,
)
from worker.agents.definitions import find_agent
from worker.core.errors import AgentWorkerError
from worker.core.limits import DEFAULT_MAX_INPUT_BYTES, check_size
from worker.core.tenants import resolve_tenant
from worker.durable import records
from worker.durable.rows import insert_once
from worker.workflows.definition import parse_definition

_executions = AIWorkflowExecution.__table__
_versions = AIWorkflowVersion.__table__


class UnknownWorkflow(AgentWorkerError):
    code = "unknown_workflow"


class ExecutionNotFound(AgentWorkerError):
    """No execution has this id (raised by the engine and by cancelling)."""

    code = "execution_not_found"


@dataclass(frozen=True)
class Started:
    execution_id: uuid.UUID
    created: bool


def start_execution(
    connection: sa.Connection,
    *,
    tenant: str,
    workflow: str,
    input: Any,
    idempotency_key: str | None,
    event_id: uuid.UUID | None = None,
    max_input_bytes: int = DEFAULT_MAX_INPUT_BYTES,
) -> Started:
    """Create the execution, pinned to the workflow's current version (once per key). Its
    input is refused over ``max_input_bytes`` and stored redacted (secret references kept)."""
    tenant_id = resolve_tenant(connection, tenant)
    check_size(
        input,
        max_input_bytes,
        what="workflow input",
        instead="send a reference (e.g. a knowledge source) instead",
    )
    row = connection.execute(
        sa.select(AIWorkflow.id, AIWorkflow.name, AIWorkflow.version, AIWorkflow.steps)
        .where(
            AIWorkflow.name == workflow,
            AIWorkflow.status == WorkflowStatus.ACTIVE,
            sa.or_(AIWorkflow.tenant_id == tenant_id, AIWorkflow.tenant_id.is_(None)),
        )
        .order_by(AIWorkflow.tenant_id.is_(None))
        .limit(1)
    ).one_or_none()
    if row is None:
        known = connection.scalars(
            sa.select(AIWorkflow.name)
            .where(
                AIWorkflow.status == WorkflowStatus.ACTIVE,
                sa.or_(AIWorkflow.tenant_id == tenant_id, AIWorkflow.tenant_id.is_(None)),
            )
            .order_by(AIWorkflow.name)
        ).all()
        raise UnknownWorkflow(
            f"unknown workflow '{workflow}' for tenant '{tenant}'; active workflows: "
            + (", ".join(known) or "none")
        )
    version_id = pin_version(connection, tenant_id, row.id, row.version, row.steps)
    definition = parse_definition(row.steps)
    for agent in sorted(definition.agents()):
        find_agent(connection, tenant_id, agent)  # fail now, not half-way through
    if event_id is None and isinstance(input, dict) and input.get("event_id"):
        event_id = uuid.UUID(str(input["event_id"]))
    inserted = insert_once(
        connection,
        _executions,  # type: ignore[arg-type]
        {
            "tenant_id": tenant_id,
            "workflow_id": row.id,
            "workflow_version_id": version_id,
            "workflow_version": row.version,
            "event_id": event_id,
            "status": ExecutionStatus.PENDING,
            "input_data": records.scrub(input if isinstance(input, dict) else {"text": input}),
            "current_step": definition.steps[0].key,
            "idempotency_key": idempotency_key,
        },
        key=["tenant_id", "idempotency_key"],
    )
    execution_id: uuid.UUID = inserted.row.id
    if not inserted.created:
        return Started(execution_id, False)
    records.write(
        connection,
        events=[
            records.event(
                records.Scope(tenant_id, workflow_execution_id=execution_id),
                EventType.STATE_CHANGE,
                f"workflow '{row.name}' v{row.version} started",
                {"status": "pending"},
            )
        ],
    )
    return Started(execution_id, True)


def pin_version(
    connection: sa.Connection,
    tenant_id: uuid.UUID | None,
    workflow_id: uuid.UUID,
    version: int,
    steps: list[Any],
) -> uuid.UUID:
    """The frozen copy of this version of the workflow (made on first use)."""
    pinned: uuid.UUID = insert_once(
        connection,
        _versions,  # type: ignore[arg-type]
        {"tenant_id": tenant_id, "workflow_id": workflow_id, "version": version, "steps": steps},
        key=["workflow_id", "version"],
    ).row.id
    return pinned


def define_workflow(
    connection: sa.Connection,
    *,
    tenant: str | None,
    name: str,
    steps: Any,
    workflow_type: WorkflowType = WorkflowType.CONTENT_GENERATION,
    description: str | None = None,
) -> tuple[uuid.UUID, int]:
    """Create the workflow, or save new steps as its next version; (id, version)."""
    definition = parse_definition(steps)
    tenant_id = resolve_tenant(connection, tenant) if tenant else None
    existing = connection.execute(
        sa.select(AIWorkflow.id).where(
            AIWorkflow.name == name,
            AIWorkflow.tenant_id == tenant_id if tenant_id else AIWorkflow.tenant_id.is_(None),
        )
    ).scalar_one_or_none()
    if existing is not None:
        return existing, save_workflow_steps(connection, existing, steps)
    dumped = [s.model_dump(by_alias=True) for s in definition.steps]
    workflow_id = connection.execute(
        sa.insert(AIWorkflow.__table__)
        .values(
            tenant_id=tenant_id,
            name=name,
            description=description,
            steps=dumped,
            version=1,
            workflow_type=workflow_type,
            status=WorkflowStatus.ACTIVE,
        )
        .returning(AIWorkflow.id)
    ).scalar_one()
    pin_version(connection, tenant_id, workflow_id, 1, dumped)
    return workflow_id, 1


def save_workflow_steps(connection: sa.Connection, workflow_id: uuid.UUID, steps: Any) -> int:
    """Validate and save new steps as the next version; running executions keep theirs."""
    definition = parse_definition(steps)
    dumped = [s.model_dump(by_alias=True, exclude_defaults=False) for s in definition.steps]
    version = connection.execute(
        sa.update(AIWorkflow.__table__)
        .where(AIWorkflow.id == workflow_id)
        .values(steps=dumped, version=AIWorkflow.version + 1)
        .returning(AIWorkflow.version, AIWorkflow.tenant_id)
    ).one()
    pin_version(connection, version.tenant_id, workflow_id, version.version, dumped)
    return int(version.version)
