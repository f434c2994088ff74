"""The event a tool's row is about: the one named, the task's (its input's ``event_id``, else
its workflow execution's), or the tenant's latest."""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from models import AIWorkflowExecution, Event, Task
from worker.agents.tools.specs import ToolContext


def event_for(session: Any, context: ToolContext, event_id: str | None) -> uuid.UUID:
    """The event a proposal is for: given, named in the task's input, the event of the task's
    workflow execution, or the tenant's latest."""
    if event_id is None:
        task = session.execute(
            sa.select(Task.input_payload, AIWorkflowExecution.event_id)
            .outerjoin(AIWorkflowExecution, AIWorkflowExecution.id == Task.workflow_execution_id)
            .where(Task.id == context.task_id)
        ).one()
        given = (task.input_payload or {}).get("input")
        event_id = given.get("event_id") if isinstance(given, dict) else None
        event_id = event_id or task.event_id
    query = sa.select(Event.id).where(Event.tenant_id == context.tenant_id)
    if event_id is not None:
        query = query.where(Event.id == uuid.UUID(str(event_id)))
    found = session.scalar(query.order_by(Event.created_at.desc()).limit(1))
    if found is None:
        raise ValueError("no event found for this tenant; create one or pass event_id")
    return found
