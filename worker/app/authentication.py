"""The principal behind a broker submission, for the task handlers (``worker.security``).

A message naming no known tenant has no principal: its handler refuses it as an unknown tenant
(or approval), as before. Otherwise the tenant's broker mode decides (``verification.py``).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from models.tenant_scope import current_tenant
from worker.agents.runtime import Runtime
from worker.core.tenants import tenant_named_by
from worker.security.principals import Principal
from worker.security.verification import authenticate_submission


def authenticate(
    runtime: Runtime,
    task_name: str,
    payload: Mapping[str, Any],
    message_id: str | None,
    *,
    tenant_id: uuid.UUID | None = None,
) -> Principal | None:
    """Verify ``payload`` for its tenant (``tenant_id``, else the scope the task layer entered,
    else the tenant it names); raises ``Unauthenticated`` (audited) when refused."""
    tenant_id = tenant_id or current_tenant()
    if tenant_id is None:
        with runtime.engine.begin() as connection:
            tenant_id = tenant_named_by(connection, payload)
    if tenant_id is None:
        return None
    return authenticate_submission(
        runtime.engine,
        runtime.settings,
        task_name,
        payload,
        tenant_id=tenant_id,
        message_id=message_id,
    )
