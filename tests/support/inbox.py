"""People with passwords and pending approvals, for the inbox's tests."""

from __future__ import annotations

import functools
import uuid
from typing import Any

import sqlalchemy as sa

from models import ApprovalKind, MembershipRole
from tests.support.agents import add_agent, ensure_tenant
from tests.support.people import add_member
from worker.agents.submission import create_task
from worker.approvals.digests import tool_call_digest
from worker.approvals.requests import request_approval
from worker.core.contract import RunTaskRequest
from worker.core.settings import Settings
from worker.durable import records
from worker.security.passwords import hash_password

PASSWORD = "correct horse battery staple"

SEND_EMAIL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "to": {"type": "string", "minLength": 3},
        "subject": {"type": "string", "minLength": 1},
        "body": {"type": "string", "minLength": 1},
    },
    "required": ["to", "subject", "body"],
    "additionalProperties": False,
}


def add_person(
    engine: sa.Engine, tenant: str, email: str, role: str, password: str = PASSWORD
) -> uuid.UUID:
    """A member of ``tenant`` with ``role`` who signs in with ``password``."""
    user_id = add_member(engine, tenant, email, role)
    with engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE users SET password_hash = :h WHERE id = :i"),
            {"h": _hash(password), "i": user_id},
        )
    return user_id


@functools.lru_cache(maxsize=8)
def _hash(password: str) -> str:
    """One scrypt hash per password per test session (each takes a while, on purpose)."""
    return hash_password(password)


def pending_tool_approval(
    engine: sa.Engine,
    tenant: str = "acme",
    *,
    arguments: dict[str, Any] | None = None,
    required_role: MembershipRole = MembershipRole.APPROVER,
    title: str = "Let agent 'mailer' run tool 'send_email'?",
) -> uuid.UUID:
    """A task parked on a pending approval of a ``send_email`` call (written as the tool gate
    writes it, without running the model)."""
    tenant_id = ensure_tenant(engine, tenant)
    with engine.connect() as connection:
        known = connection.execute(
            sa.text("SELECT 1 FROM ai_agents WHERE tenant_id = :t AND name = 'mailer'"),
            {"t": tenant_id},
        ).first()
    if known is None:
        add_agent(engine, "mailer", tenant=tenant)
    arguments = arguments or {"to": "ops@acme.test", "subject": "Venue", "body": "Booked."}
    with engine.begin() as connection:
        task_id = create_task(
            connection,
            Settings(),
            RunTaskRequest(tenant=tenant, agent="mailer", input="tell ops"),
            idempotency_key=None,
        ).task_id
        connection.execute(  # parked, as the tool gate leaves it
            sa.text("UPDATE tasks SET status = 'AWAITING_APPROVAL' WHERE id = :i"), {"i": task_id}
        )
        approval_id, _ = request_approval(
            connection,
            tenant_id=tenant_id,
            kind=ApprovalKind.TOOL_CALL,
            title=title,
            payload={"tool": "send_email", "arguments": arguments, "task_id": str(task_id)},
            scope=records.Scope(tenant_id, task_id),
            tool_call_id=f"call-{uuid.uuid4().hex[:8]}",
            requested_by="agent mailer",
            required_role=required_role,
            digest=tool_call_digest("send_email", arguments),
            arguments_schema=SEND_EMAIL_SCHEMA,
        )
    return approval_id
