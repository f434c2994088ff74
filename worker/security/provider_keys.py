"""Provider API keys at rest: store them encrypted, and rotate the encryption key.

Rotation: put the new key first in ``AGENTWORKER_ENCRYPTION_KEYS`` (keep the old one after it),
run ``agentworker keys rotate`` (re-encrypts everything stored encrypted under the first, not
only these keys: ``worker.security.encrypted_fields``), check with ``agentworker keys verify``
run with only the new key, then drop the old key. Workers read any key in the list meanwhile,
so nothing stops. ``rotate_provider_keys`` rotates these keys alone.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from models import AIModel, ModelUsageType
from worker.core.tenants import resolve_tenant
from worker.security.encryption import SecretBox

_models = AIModel.__table__


@dataclass(frozen=True)
class RotationReport:
    rotated: int
    already_current: int


def rotate_provider_keys(engine: sa.Engine, box: SecretBox) -> RotationReport:
    rotated = current = 0
    with engine.begin() as connection:
        rows = connection.execute(
            sa.select(_models.c.id, _models.c.api_key_encrypted)
            .where(_models.c.api_key_encrypted.is_not(None))
            .with_for_update()
        ).all()
        for row in rows:
            if not box.needs_rotation(row.api_key_encrypted):
                current += 1
                continue
            connection.execute(
                sa.update(_models)
                .where(_models.c.id == row.id)
                .values(api_key_encrypted=box.rotate(row.api_key_encrypted))
            )
            rotated += 1
    return RotationReport(rotated, current)


def set_provider(
    engine: sa.Engine,
    box: SecretBox,
    *,
    tenant: str | None,
    name: str,
    provider: str,
    model: str,
    api_key: str,
    base_url: str | None = None,
    usage: ModelUsageType = ModelUsageType.GENERAL,
    requests_per_minute: float | None = None,
) -> uuid.UUID:
    """Create or replace a provider configuration; its API key is stored encrypted.
    ``requests_per_minute``: the provider's known limit, which all worker processes together
    pace their calls to (kept in ``config``; ``worker.llm.shared_limiter``)."""
    with engine.begin() as connection:
        tenant_id = resolve_tenant(connection, tenant) if tenant else None
        values = {
            "tenant_id": tenant_id,
            "name": name,
            "provider": provider,
            "model": model,
            "base_url": base_url,
            "api_key_encrypted": box.encrypt(api_key),
            "usage_type": usage,
            "is_active": True,
        }
        if requests_per_minute is not None:
            values["config"] = {"requests_per_minute": requests_per_minute}
        statement = pg_insert(_models).values(values)
        return connection.execute(
            statement.on_conflict_do_update(
                index_elements=["tenant_id", "name"],
                set_={k: statement.excluded[k] for k in values if k not in ("tenant_id", "name")},
            ).returning(_models.c.id)
        ).scalar_one()
