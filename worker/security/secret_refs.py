"""Secrets by reference, never by value.

A caller that must hand a tool a secret puts a reference in the payload instead of the value:

    {"$secret": "tenant:crm_token"}   the tenant's secret, stored encrypted
                                      (``agentworker keys set-secret``)
    {"$secret": "env:CRM_TOKEN"}      the worker's AGENTWORKER_SECRET_CRM_TOKEN variable

The worker resolves references only when a tool runs; tasks, events, logs, action logs and
Flower only ever hold the reference. Environment references are limited to variables named
AGENTWORKER_SECRET_*, so a payload cannot ask for DATABASE_URL or the provider keys.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from models import Tenant
from worker.core.errors import AgentWorkerError
from worker.security.encryption import SecretBox

REFERENCE_KEY = "$secret"
ENV_PREFIX = "AGENTWORKER_SECRET_"


class UnknownSecret(AgentWorkerError):
    code = "unknown_secret"


def is_reference(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {REFERENCE_KEY}


def has_references(value: Any) -> bool:
    if is_reference(value):
        return True
    if isinstance(value, dict):
        return any(has_references(v) for v in value.values())
    if isinstance(value, list):
        return any(has_references(v) for v in value)
    return False


def resolve_references(
    value: Any,
    *,
    connection: sa.Connection,
    tenant_id: uuid.UUID,
    box: SecretBox | None,
    environ: Mapping[str, str] | None = None,
) -> Any:
    """``value`` with every reference replaced by the secret it names."""
    environ = os.environ if environ is None else environ
    if is_reference(value):
        return _resolve(str(value[REFERENCE_KEY]), connection, tenant_id, box, environ)
    if isinstance(value, dict):
        return {
            k: resolve_references(
                v, connection=connection, tenant_id=tenant_id, box=box, environ=environ
            )
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [
            resolve_references(
                v, connection=connection, tenant_id=tenant_id, box=box, environ=environ
            )
            for v in value
        ]
    return value


def _resolve(
    reference: str,
    connection: sa.Connection,
    tenant_id: uuid.UUID,
    box: SecretBox | None,
    environ: Mapping[str, str],
) -> str:
    scheme, _, name = reference.partition(":")
    if scheme == "env" and name:
        value = environ.get(ENV_PREFIX + name)
        if value is None:
            raise UnknownSecret(
                f"secret reference 'env:{name}' names no variable {ENV_PREFIX}{name} on the "
                "worker; set it there"
            )
        return value
    if scheme == "tenant" and name:
        configs = connection.execute(
            sa.select(Tenant.provider_configs).where(Tenant.id == tenant_id)
        ).scalar_one()
        token = ((configs or {}).get("secrets") or {}).get(name)
        if token is None:
            raise UnknownSecret(
                f"the tenant has no secret '{name}'; store it with "
                f"`agentworker keys set-secret --tenant … --name {name}`"
            )
        if box is None:
            raise UnknownSecret("AGENTWORKER_ENCRYPTION_KEYS is not set on this worker")
        return box.decrypt(token.encode())
    raise UnknownSecret(f"'{reference}' is not a secret reference; use tenant:<name> or env:<name>")


def store_tenant_secret(
    connection: sa.Connection, box: SecretBox, tenant_id: uuid.UUID, name: str, value: str
) -> None:
    token = box.encrypt(value).decode()
    connection.execute(
        sa.update(Tenant.__table__)
        .where(Tenant.id == tenant_id)
        .values(
            provider_configs=sa.func.jsonb_set(
                sa.func.coalesce(Tenant.provider_configs, sa.text("'{}'::jsonb")),
                sa.text("'{secrets}'"),
                sa.func.coalesce(Tenant.provider_configs["secrets"], sa.text("'{}'::jsonb")).op(
                    "||"
                )(sa.func.jsonb_build_object(name, token)),
            )
        )
    )
