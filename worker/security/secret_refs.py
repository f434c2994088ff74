"""Secrets by reference, never by value, and only where they were granted.

A caller that must hand a tool a secret puts a reference in the payload instead of the value:

    {"$secret": "tenant:crm_token"}   the tenant's secret, stored encrypted
                                      (``agentworker keys set-secret``)
    {"$secret": "env:CRM_TOKEN"}      the worker's AGENTWORKER_SECRET_CRM_TOKEN variable, for a
                                      tenant granted it (``agentworker keys grant-env-secret``)

The worker resolves references only when a tool runs, and only those the task was granted:
references the submitter passed in the task's input, or that the agent's configuration names
(``"secrets": ["tenant:crm_token"]``). A reference that only the model wrote (a prompt
injection can make it write any) is refused with ``SecretNotGranted``. The resolved values are
concealed in whatever the tool returns before the model or any row sees it; tasks, events, logs
and action logs only ever hold the reference. Environment references are limited to variables
named AGENTWORKER_SECRET_*, so a payload cannot ask for DATABASE_URL or the provider keys.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from models import Tenant
from worker.core.errors import AgentWorkerError
from worker.security.encryption import SecretBox
from worker.security.redact import REDACTED

REFERENCE_KEY = "$secret"
ENV_PREFIX = "AGENTWORKER_SECRET_"
#: Where a tenant's ``env:`` grants live: ``tenants.provider_configs["env_secrets"]``.
ENV_GRANTS_KEY = "env_secrets"
#: Where a tenant's encrypted secrets live: ``tenants.provider_configs["secrets"]``.
TENANT_SECRETS_KEY = "secrets"
#: Resolved values shorter than this are not concealed in results (it would hide nothing and
#: garble every text that happens to contain them).
MIN_CONCEALED_LENGTH = 4
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]*$")


class UnknownSecret(AgentWorkerError):
    code = "unknown_secret"


class SecretNotGranted(UnknownSecret):
    """A reference the task was not granted: the model wrote it, or the tenant may not read
    that worker variable."""

    code = "secret_not_granted"


@dataclass(frozen=True)
class Resolved:
    """Arguments with their references replaced, and the values that replaced them (to be
    concealed in what the tool returns)."""

    value: Any
    secrets: frozenset[str]


def is_reference(value: Any) -> bool:
    return isinstance(value, dict) and set(value) == {REFERENCE_KEY}


def has_references(value: Any) -> bool:
    return bool(references_in(value))


def references_in(value: Any) -> frozenset[str]:
    """Every reference (``"tenant:crm"``, ``"env:CRM"``) named anywhere in JSON-like ``value``."""
    found: set[str] = set()
    _collect(value, found)
    return frozenset(found)


def _collect(value: Any, found: set[str]) -> None:
    if is_reference(value):
        found.add(str(value[REFERENCE_KEY]))
    elif isinstance(value, Mapping):
        for item in value.values():
            _collect(item, found)
    elif isinstance(value, list | tuple):
        for item in value:
            _collect(item, found)


def check_reference_name(reference: str) -> str:
    """``reference`` if it is ``tenant:NAME`` or ``env:NAME``; else ValueError saying so."""
    scheme, _, name = reference.partition(":")
    if scheme not in ("tenant", "env") or not _NAME.match(name):
        raise ValueError(
            f"'{reference}' is not a secret reference; use tenant:<name> or env:<name>"
        )
    return reference


def granted_references(task_input: Any, agent_secrets: Iterable[str]) -> frozenset[str]:
    """What a task may resolve: the references in its stored input and the agent's own."""
    return references_in(task_input) | frozenset(agent_secrets)


def resolve_references(
    value: Any,
    *,
    connection: sa.Connection,
    tenant_id: uuid.UUID,
    box: SecretBox | None,
    granted: Collection[str],
    environ: Mapping[str, str] | None = None,
) -> Resolved:
    """``value`` with every reference replaced by the secret it names; ``SecretNotGranted``
    if it names one outside ``granted`` (nothing is resolved then)."""
    environ = os.environ if environ is None else environ
    wanted = references_in(value)
    refused = sorted(wanted - set(granted))
    if refused:
        raise SecretNotGranted(
            f"secret reference {', '.join(repr(r) for r in refused)} is not granted to this "
            "task: only references passed in the task's input or named in the agent's "
            "'secrets' configuration can be resolved; the tool was not run"
        )
    if not wanted:
        return Resolved(value, frozenset())
    configs = (
        connection.execute(
            sa.select(Tenant.provider_configs).where(Tenant.id == tenant_id)
        ).scalar_one_or_none()
        or {}
    )
    values = {ref: _resolve(ref, configs, box, environ) for ref in wanted}
    return Resolved(_replace(value, values), frozenset(values.values()))


def _replace(value: Any, values: Mapping[str, str]) -> Any:
    if is_reference(value):
        return values[str(value[REFERENCE_KEY])]
    if isinstance(value, Mapping):
        return {k: _replace(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace(v, values) for v in value]
    return value


def _resolve(
    reference: str,
    configs: Mapping[str, Any],
    box: SecretBox | None,
    environ: Mapping[str, str],
) -> str:
    scheme, _, name = reference.partition(":")
    if scheme == "env" and name:
        if name not in (configs.get(ENV_GRANTS_KEY) or []):
            raise SecretNotGranted(
                f"secret reference 'env:{name}' is not granted to this tenant; an operator "
                f"grants it with `agentworker keys grant-env-secret --tenant … --name {name}`"
            )
        value = environ.get(ENV_PREFIX + name)
        if value is None:
            raise UnknownSecret(
                f"secret reference 'env:{name}' names no variable {ENV_PREFIX}{name} on the "
                "worker; set it there"
            )
        return value
    if scheme == "tenant" and name:
        token = (configs.get(TENANT_SECRETS_KEY) or {}).get(name)
        if token is None:
            raise UnknownSecret(
                f"the tenant has no secret '{name}'; store it with "
                f"`agentworker keys set-secret --tenant … --name {name}`"
            )
        if box is None:
            raise UnknownSecret("AGENTWORKER_ENCRYPTION_KEYS is not set on this worker")
        return box.decrypt(token.encode())
    raise UnknownSecret(f"'{reference}' is not a secret reference; use tenant:<name> or env:<name>")


def conceal(value: Any, secrets: Collection[str]) -> Any:
    """A copy of JSON-like ``value`` (or text) with every occurrence of each of ``secrets``, in
    any string or key at any depth, replaced by ``REDACTED``."""
    usable = sorted((s for s in secrets if len(s) >= MIN_CONCEALED_LENGTH), key=len, reverse=True)
    return _conceal(value, tuple(usable)) if usable else value


def _conceal(value: Any, secrets: tuple[str, ...]) -> Any:
    if isinstance(value, str):
        for secret in secrets:
            value = value.replace(secret, REDACTED)
        return value
    if isinstance(value, Mapping):
        return {_conceal(k, secrets): _conceal(v, secrets) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_conceal(v, secrets) for v in value)
    if isinstance(value, int | float | bool) or value is None:
        return value
    return _conceal(repr(value), secrets)


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


def env_secret_grants(connection: sa.Connection, tenant_id: uuid.UUID) -> list[str]:
    configs = connection.execute(
        sa.select(Tenant.provider_configs).where(Tenant.id == tenant_id)
    ).scalar_one()
    return sorted((configs or {}).get(ENV_GRANTS_KEY) or [])


def grant_env_secret(connection: sa.Connection, tenant_id: uuid.UUID, name: str) -> bool:
    """Let the tenant resolve ``env:NAME``; False if it already could."""
    return _set_env_grant(connection, tenant_id, name, granted=True)


def revoke_env_secret(connection: sa.Connection, tenant_id: uuid.UUID, name: str) -> bool:
    """Stop the tenant resolving ``env:NAME``; False if it could not."""
    return _set_env_grant(connection, tenant_id, name, granted=False)


def _set_env_grant(
    connection: sa.Connection, tenant_id: uuid.UUID, name: str, *, granted: bool
) -> bool:
    check_reference_name(f"env:{name}")
    tenants = Tenant.__table__
    configs = connection.execute(
        sa.select(tenants.c.provider_configs).where(tenants.c.id == tenant_id).with_for_update()
    ).scalar_one()
    configs = dict(configs or {})
    names = set(configs.get(ENV_GRANTS_KEY) or [])
    if (name in names) == granted:
        return False
    names = names | {name} if granted else names - {name}
    configs[ENV_GRANTS_KEY] = sorted(names)
    connection.execute(
        sa.update(tenants).where(tenants.c.id == tenant_id).values(provider_configs=configs)
    )
    return True
