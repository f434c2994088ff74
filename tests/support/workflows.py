"""Workflows for tests: saved through the same validation as production."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from models import AIWorkflow, WorkflowStatus, WorkflowType
from tests.support.agents import ensure_tenant
from worker.workflows.catalog import pin_version
from worker.workflows.definition import parse_definition


def add_workflow(
    engine: sa.Engine, name: str, steps: list[dict[str, Any]], tenant: str = "acme"
) -> uuid.UUID:
    parse_definition(steps)
    tenant_id = ensure_tenant(engine, tenant)
    with engine.begin() as connection:
        workflow_id = connection.execute(
            sa.insert(AIWorkflow)
            .values(
                tenant_id=tenant_id,
                name=name,
                workflow_type=WorkflowType.CONTENT_GENERATION,
                status=WorkflowStatus.ACTIVE,
                steps=steps,
                version=1,
            )
            .returning(AIWorkflow.id)
        ).scalar_one()
        pin_version(connection, tenant_id, workflow_id, 1, steps)
    return workflow_id


def approval_gate(key: str = "gate", **policy: Any) -> dict[str, Any]:
    return {
        "key": key,
        "kind": "approval",
        "title": f"Approve {key}?",
        "show": "{{ steps }}",
        **policy,
    }
