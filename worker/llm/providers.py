"""Which LLM provider a tenant's call goes to.

In order: the agent's named ``provider`` (an ai_models row of the tenant, else system-wide);
the tenant's active ai_models row for the usage; ``OPENAI_API_KEY`` / ``OPENAI_BASE_URL``; and,
when none is configured, the local OpenAI-compatible server that the runtime starts.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from models import AIModel, ModelUsageType
from worker.core.errors import ConfigurationError
from worker.core.settings import Settings
from worker.llm.gateway import ProviderConfig
from worker.security.encryption import SecretBox

LOCAL_API_KEY = "agentworker-local"


class UnknownProvider(ConfigurationError):
    code = "unknown_provider"


class NoProviderConfigured(ConfigurationError):
    code = "no_provider"


def resolve_provider(
    connection: sa.Connection,
    settings: Settings,
    tenant_id: uuid.UUID,
    *,
    usage: ModelUsageType,
    named: str | None = None,
) -> tuple[ProviderConfig, str | None]:
    """The provider and the model it prefers (None: use the agent's or the default model)."""
    tenant_or_shared = sa.or_(AIModel.tenant_id == tenant_id, AIModel.tenant_id.is_(None))
    query = sa.select(
        AIModel.name, AIModel.base_url, AIModel.api_key_encrypted, AIModel.model
    ).where(AIModel.is_active.is_(True), tenant_or_shared)
    if named is not None:
        query = query.where(AIModel.name == named)
    else:
        query = query.where(
            AIModel.tenant_id == tenant_id,
            AIModel.usage_type.in_([usage, ModelUsageType.GENERAL]),
        ).order_by((AIModel.usage_type == usage).desc())
    row = connection.execute(
        query.order_by(AIModel.tenant_id.is_(None), AIModel.created_at).limit(1)
    ).one_or_none()
    if row is not None:
        key = (
            SecretBox(settings.encryption_keys).decrypt(row.api_key_encrypted)
            if row.api_key_encrypted
            else settings.openai_api_key or LOCAL_API_KEY
        )
        return ProviderConfig(f"ai_models:{row.name}", key, row.base_url), row.model
    if named is not None:
        raise UnknownProvider(
            f"provider '{named}' is not an active ai_models entry of this tenant or of the "
            "system; add it, or remove 'provider' from the agent's configuration"
        )
    return environment_provider(settings), None


def environment_provider(settings: Settings) -> ProviderConfig:
    """``OPENAI_API_KEY`` / ``OPENAI_BASE_URL``; an endpoint without a key gets a placeholder
    (the SDK needs one). Neither set: ``NoProviderConfigured``, never a silent stand-in."""
    if settings.openai_api_key:
        return ProviderConfig("env", settings.openai_api_key, settings.openai_base_url)
    if settings.openai_base_url:
        return ProviderConfig("env", LOCAL_API_KEY, settings.openai_base_url)
    raise NoProviderConfigured(
        "no LLM provider is configured: set OPENAI_API_KEY (with OPENAI_BASE_URL for any other "
        "OpenAI-compatible endpoint) or add an active ai_models row for the tenant; for local "
        "development `agentworker dev` starts a local OpenAI-compatible server"
    )
