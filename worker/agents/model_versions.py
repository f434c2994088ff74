"""An agent's configurations over time, as seed 001's ``ai_model_versions``: one row per
distinct configuration an agent has had in a tenant, found by the SHA-256 of the configuration
(canonical JSON), numbered 1, 2, 3 … in the order they first appeared; the newest is the active
one.

Recorded where a configuration takes effect: when a run starts (``worker.agents.run_start``),
so a configuration changed by any means (the seed, SQL, a future API) is recorded the first time
it runs, and one that comes back is made active again rather than added twice. The same
configuration never gets a second row: a new one is checked for and inserted under a
transaction-level advisory lock per (tenant, agent), so concurrent runs record it once.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from models import AIModelVersion, AITrainingData

_versions = AIModelVersion.__table__
#: The hyperparameters key that holds the configuration's hash.
HASH_KEY = "configuration_sha256"


@dataclass(frozen=True)
class ModelVersion:
    id: uuid.UUID
    version_number: str
    configuration_sha256: str
    created: bool


def configuration_hash(configuration: dict[str, Any]) -> str:
    canonical = json.dumps(configuration, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def record_model_version(
    connection: sa.Connection,
    tenant_id: uuid.UUID,
    agent_id: uuid.UUID,
    agent_version: str,
    configuration: dict[str, Any],
) -> ModelVersion:
    """The version row of this configuration of the agent in ``tenant_id``'s scope: the
    existing one, or a new active one (the others are deactivated)."""
    digest = configuration_hash(configuration)
    found = _find(connection, tenant_id, agent_id, digest)
    if found is not None and found[1]:
        return found[0]
    connection.execute(
        sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
        {"key": f"ai_model_versions:{tenant_id}:{agent_id}"},
    )
    found = _find(connection, tenant_id, agent_id, digest)  # another run may have just added it
    if found is not None:
        if not found[1]:  # an earlier configuration is back: it is the active one again
            _activate(connection, tenant_id, agent_id, found[0].id)
        return found[0]
    count = connection.execute(
        sa.select(sa.func.count())
        .select_from(_versions)
        .where(_versions.c.tenant_id == tenant_id, _versions.c.agent_id == agent_id)
    ).scalar_one()
    samples = connection.execute(
        sa.select(sa.func.count())
        .select_from(AITrainingData.__table__)
        .where(AITrainingData.agent_id == agent_id, AITrainingData.tenant_id == tenant_id)
    ).scalar_one()
    _activate(connection, tenant_id, agent_id, None)
    number = str(count + 1)
    row_id = connection.execute(
        sa.insert(_versions)
        .values(
            tenant_id=tenant_id,
            agent_id=agent_id,
            version_number=number,
            model_path=f"ai_agents/{agent_id}/configuration@{digest[:12]}",
            training_data_size=samples,
            performance_metrics={},
            hyperparameters={
                HASH_KEY: digest,
                "agent_version": agent_version,
                "configuration": configuration,
            },
            is_active=True,
            deployed_at=sa.func.now(),
        )
        .returning(_versions.c.id)
    ).scalar_one()
    return ModelVersion(row_id, number, digest, created=True)


def _activate(
    connection: sa.Connection,
    tenant_id: uuid.UUID,
    agent_id: uuid.UUID,
    version_id: uuid.UUID | None,
) -> None:
    """Make ``version_id`` the agent's only active version (None: deactivate them all)."""
    connection.execute(
        sa.update(_versions)
        .where(_versions.c.tenant_id == tenant_id, _versions.c.agent_id == agent_id)
        .values(is_active=_versions.c.id == version_id if version_id is not None else sa.false())
    )


def _find(
    connection: sa.Connection, tenant_id: uuid.UUID, agent_id: uuid.UUID, digest: str
) -> tuple[ModelVersion, bool] | None:
    """The version of ``digest`` and whether it is the active one."""
    row = connection.execute(
        sa.select(_versions.c.id, _versions.c.version_number, _versions.c.is_active).where(
            _versions.c.tenant_id == tenant_id,
            _versions.c.agent_id == agent_id,
            _versions.c.hyperparameters[HASH_KEY].astext == digest,
        )
    ).first()
    if row is None:
        return None
    return ModelVersion(row.id, row.version_number, digest, created=False), row.is_active
