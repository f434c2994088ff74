"""The email each eligible approver gets when an approval is asked for: a PENDING
``ai_communications`` row of type email, written in the approval's transaction and sent by the
worker (``emails``), with a link to the approval's page in the inbox."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from models import AICommunication, CommunicationType, DeliveryStatus, RecipientType
from worker.notifications.emails import PUBLIC_URL

__all__ = ["approval_link", "queue_approval_emails"]


def approval_link(approval_id: uuid.UUID) -> str:
    """The approval's page, with the public URL left to fill in when the message is sent."""
    return f"{PUBLIC_URL}/inbox/approvals/{approval_id}"


def queue_approval_emails(
    connection: sa.Connection,
    *,
    tenant_id: uuid.UUID,
    approval_id: uuid.UUID,
    title: str,
    approvers: Sequence[sa.Row[Any]],
    agent_id: uuid.UUID | None,
) -> int:
    """One PENDING email per approver (``id``, ``email`` rows); how many."""
    link = approval_link(approval_id)
    rows = [
        {
            "tenant_id": tenant_id,
            "communication_type": CommunicationType.EMAIL,
            "recipient_id": approver.id,
            "recipient_type": RecipientType.USER,
            "subject": f"Approval needed: {title}",
            "content": (
                f"'{title}' waits for your decision.\n\n"
                f"Open it to approve or reject: {link}\n\n"
                f"Or from a shell: agentworker approvals show {approval_id}\n"
            ),
            "personalization_data": {
                "approval_id": str(approval_id),
                "to": approver.email,
                "link_path": f"/inbox/approvals/{approval_id}",
            },
            "delivery_status": DeliveryStatus.PENDING,
            "generated_by_agent_id": agent_id,
        }
        for approver in approvers
        if approver.email
    ]
    if rows:
        connection.execute(sa.insert(AICommunication), rows)
    return len(rows)
