"""What follows once an approval leaves PENDING by a decision or by expiry: the audit_logs row,
the APPROVAL_RESOLVED event, and waking what the approval gates.

Both are written in the transaction of the status change; the wakes are returned for the
caller to publish after commit (a workflow's ``workflows.advance``, or the parked agent run's
``agents.run_task``). The reaper covers a crash in between.
"""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from models import (
    Approval,
    ApprovalKind,
    ApprovalStatus,
    AuditLog,
    ErrorSeverity,
    EventType,
    TaskStatus,
    TenantSpend,
)
from worker.approvals.errors import ApprovalError, NotAllowed
from worker.core.contract import ADVANCE_WORKFLOW, RUN_TASK, ResolveApprovalRequest
from worker.durable import records
from worker.durable.publishing import Wake
from worker.durable.states import TASK
from worker.security.principals import Principal

#: Approvals a parked agent run waits on: deciding one moves its task back to PENDING.
_GATES_A_RUN = (ApprovalKind.TOOL_CALL, ApprovalKind.BUDGET_GRANT)


def audit(
    connection: sa.Connection,
    approval: sa.Row[Any],
    user_id: uuid.UUID | None,
    user: str,
    action: str,
    changes: dict[str, Any],
    *,
    principal: Principal | None = None,
) -> None:
    """One audit_logs row: ``user`` (as named; ``user_id`` is the matching user, if any) did
    ``action`` to ``approval``, through ``principal`` (recorded in its metadata)."""
    metadata: dict[str, Any] = {"title": approval.title, "kind": str(approval.kind)}
    if principal is not None:
        metadata["principal"] = principal.audit_fields()
    connection.execute(
        sa.insert(AuditLog.__table__).values(
            tenant_id=approval.tenant_id,
            user_id=user_id,
            actor=user,
            action=action,
            resource_type="approval",
            resource_id=str(approval.id),
            changes=records.scrub(changes),
            metadata=metadata,
        )
    )


def record_and_wake(
    connection: sa.Connection,
    approval: sa.Row[Any],
    status: ApprovalStatus,
    what: str,
    comment: str | None,
) -> list[Wake]:
    """Record that ``approval`` is now ``status`` and return what to wake after commit: the
    parked task of a tool call (moved back to PENDING here), or the workflow execution."""
    scope = records.Scope(
        tenant_id=approval.tenant_id,
        task_id=approval.task_id,
        agent_run_id=approval.agent_run_id,
        workflow_execution_id=approval.workflow_execution_id,
    )
    records.write(
        connection,
        events=[
            records.event(
                scope,
                EventType.APPROVAL_RESOLVED,
                f"'{approval.title}' {what}",
                {"approval_id": str(approval.id), "status": status.value, "comment": comment},
            )
        ],
    )
    if approval.kind == ApprovalKind.BUDGET_GRANT and status == ApprovalStatus.APPROVED:
        _grant_tenant_budget(connection, approval)
    if approval.kind in _GATES_A_RUN and approval.task_id is not None:
        woken = TASK.apply(
            connection, approval.task_id, TaskStatus.PENDING, sources=[TaskStatus.AWAITING_APPROVAL]
        )
        return [Wake(RUN_TASK, {"task_id": str(approval.task_id)})] if woken else []
    if approval.workflow_execution_id is not None:
        return [Wake(ADVANCE_WORKFLOW, {"execution_id": str(approval.workflow_execution_id)})]
    return []


def _grant_tenant_budget(connection: sa.Connection, approval: sa.Row[Any]) -> None:
    """An approved tenant grant raises that period's budget, once: in the decision's
    transaction (``worker.agents.budget_grants``). A run's own grants are read from its
    approvals instead."""
    payload = approval.payload
    if payload.get("scope") != "tenant":
        return
    spend = TenantSpend.__table__
    connection.execute(
        sa.update(spend)
        .where(
            spend.c.tenant_id == approval.tenant_id,
            spend.c.period == payload["period"],
            spend.c.period_start == date.fromisoformat(payload["period_start"]),
        )
        .values(granted_usd=spend.c.granted_usd + Decimal(payload["grant"]["usd"]))
    )


def record_refusal(
    engine: sa.Engine,
    request: ResolveApprovalRequest,
    error: ApprovalError,
    message_id: str | None,
    *,
    principal: Principal | None = None,
) -> None:
    """Keep a refused decision where its sender can read it: an ``approval.refused`` audit row
    of the approval (a refusal audited where it was decided is not written twice), or an
    ai_error_logs row when there is no such approval."""
    if error.audited or isinstance(error, NotAllowed):
        return
    approval_id = str(request.approval_id)
    with engine.begin() as connection:
        approval = connection.execute(
            sa.select(Approval.__table__).where(Approval.id == request.approval_id)
        ).one_or_none()
        if approval is None:
            records.write(
                connection,
                errors=[
                    records.error_log(
                        records.Scope(tenant_id=None),
                        error_type=f"approval.{error.code}",
                        message=str(error),
                        severity=ErrorSeverity.MEDIUM,
                        context={
                            "approval_id": approval_id,
                            "user": request.user,
                            "decision": request.decision,
                            "broker_message_id": message_id,
                        },
                    )
                ],
            )
            return
        audit(
            connection,
            approval,
            None,
            request.user,
            "approval.refused",
            {
                "attempted": request.decision,
                "code": error.code,
                "reason": str(error),
                "broker_message_id": message_id,
            },
            principal=principal,
        )
