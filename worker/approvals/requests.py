"""Asking for an approval (DESIGN §4-5): the approval row, once per workflow step or per tool
call, an APPROVAL_REQUESTED event, and an in-app ai_communications message and a PENDING email
(``worker.notifications``, sent by the worker) for every eligible approver of the tenant, all in
the caller's transaction; the approval.requested webhook is written by the database with the row.

While the approval is pending nothing runs for it: the caller parks what it gates, and a
decision (``worker.approvals.decisions``) or the expiry sweep wakes it.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from models import (
    AICommunication,
    Approval,
    ApprovalKind,
    CommunicationType,
    DeliveryStatus,
    EventType,
    MembershipRole,
    RecipientType,
    TenantMembership,
    User,
)
from worker.approvals.roles import roles_at_or_above
from worker.core import tracing
from worker.durable import records
from worker.durable.rows import insert_once
from worker.notifications.approval_emails import queue_approval_emails

_approvals = Approval.__table__

#: The unique keys of an approval: a workflow step asks once per (execution, step, attempt),
#: an agent once per (run, tool call). The other key is NULL, and NULLs never conflict.
_STEP_KEY = ("workflow_execution_id", "step_key", "step_attempt")
_TOOL_CALL_KEY = ("agent_run_id", "tool_call_id")


def request_approval(
    connection: sa.Connection,
    *,
    tenant_id: uuid.UUID,
    kind: ApprovalKind,
    title: str,
    payload: dict[str, Any],
    scope: records.Scope,
    description: str | None = None,
    step_key: str | None = None,
    step_attempt: int | None = None,
    tool_call_id: str | None = None,
    requested_by: str | None = None,
    required_role: MembershipRole = MembershipRole.APPROVER,
    expires_at: datetime | None = None,
    policy: dict[str, Any] | None = None,
    quorum: int = 1,
    rejections_needed: int = 1,
    digest: str | None = None,
    arguments_schema: dict[str, Any] | None = None,
) -> tuple[uuid.UUID, bool]:
    """Create the approval once (per attempt of a workflow step, or per tool call); (id,
    created). ``quorum`` distinct approvers must approve (``rejections_needed`` rejections
    reject); a tool approval carries its call's ``digest`` and the tool's argument schema."""
    values = {
        "tenant_id": tenant_id,
        "kind": kind,
        "title": title,
        "description": description,
        "payload": records.scrub(payload),
        "task_id": scope.task_id,
        "workflow_execution_id": scope.workflow_execution_id,
        "agent_run_id": scope.agent_run_id,
        "step_key": step_key,
        "step_attempt": step_attempt if step_key is not None else None,
        "tool_call_id": tool_call_id,
        "requested_by": requested_by,
        "required_role": required_role,
        "expires_at": expires_at,
        "policy": _with_trace_context(policy or {}),
        "quorum": quorum,
        "rejections_needed": rejections_needed,
        "digest": digest,
        "arguments_schema": arguments_schema,
    }
    inserted = insert_once(
        connection,
        _approvals,  # type: ignore[arg-type]
        values,
        key=_TOOL_CALL_KEY if tool_call_id is not None else _STEP_KEY,
    )
    approval_id: uuid.UUID = inserted.row.id
    if not inserted.created:
        return approval_id, False
    records.write(
        connection,
        events=[
            records.event(
                scope,
                EventType.APPROVAL_REQUESTED,
                title,
                {
                    "approval_id": str(approval_id),
                    "kind": kind.value,
                    "required_role": required_role.value,
                    "expires_at": expires_at.isoformat() if expires_at else None,
                    "quorum": quorum,
                    "digest": digest,
                },
            )
        ],
    )
    _notify_approvers(connection, tenant_id, approval_id, title, required_role, scope.agent_id)
    return approval_id, True


def eligible_approvers(
    connection: sa.Connection, tenant_id: uuid.UUID, required_role: MembershipRole
) -> list[sa.Row[Any]]:
    """The active users of the tenant whose role may decide (id, email), by email."""
    return list(
        connection.execute(
            sa.select(User.id, User.email)
            .join(TenantMembership, TenantMembership.user_id == User.id)
            .where(
                TenantMembership.tenant_id == tenant_id,
                TenantMembership.role.in_(roles_at_or_above(required_role)),
                User.is_active.is_(True),
            )
            .order_by(User.email)
        ).all()
    )


def _notify_approvers(
    connection: sa.Connection,
    tenant_id: uuid.UUID,
    approval_id: uuid.UUID,
    title: str,
    required_role: MembershipRole,
    agent_id: uuid.UUID | None,
) -> None:
    approvers = eligible_approvers(connection, tenant_id, required_role)
    rows = [
        {
            "tenant_id": tenant_id,
            "communication_type": CommunicationType.IN_APP_MESSAGE,
            "recipient_id": user.id,
            "recipient_type": RecipientType.USER,
            "subject": f"Approval needed: {title}",
            "content": f"'{title}' waits for your decision: agentworker approvals show "
            f"{approval_id}",
            "personalization_data": {"approval_id": str(approval_id)},
            "delivery_status": DeliveryStatus.SENT,
            "sent_at": records.now(),
            "generated_by_agent_id": agent_id,
        }
        for user in approvers
    ]
    if rows:
        connection.execute(sa.insert(AICommunication.__table__), rows)
    queue_approval_emails(
        connection,
        tenant_id=tenant_id,
        approval_id=approval_id,
        title=title,
        approvers=approvers,
        agent_id=agent_id,
    )


def _with_trace_context(policy: dict[str, Any]) -> dict[str, Any]:
    """The policy, with the traceparent of the span that asks (and parks what it gates)
    when tracing is on: the span that resumes after the decision links to it."""
    parked = tracing.traceparent()
    return {**policy, tracing.TRACEPARENT: parked} if parked else policy
