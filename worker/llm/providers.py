"""Which LLM provider a tenant's call goes to.

In order: the agent's named ``provider`` (an ai_models row of the tenant, else system-wide);
the tenant's active ai_models row for the usage; ``OPENAI_API_KEY`` / ``OPENAI_BASE_URL``. With
none of them a call fails ``no_provider``; nothing stands in silently. The local stand-in
(worker/dev/llm_server.py) is used only on purpose: ``AGENTWORKER_LOCAL_LLM=1`` with
``OPENAI_BASE_URL`` at it (an endpoint without the flag is just an OpenAI-compatible endpoint).
``describe_environment_provider`` and ``active_provider_rows`` tell the worker's start and
``agentworker health`` whether any call could go anywhere.
"""

from __future__ import annotations

import uuid

import sqlalchemy as sa

from models import AIModel, ModelUsageType
from worker.core.errors import ConfigurationError
from worker.core.settings import Settings
from worker.llm.gateway import ProviderConfig
from worker.security.encryption import SecretBox
from worker.security.redact import redact_text

LOCAL_API_KEY = "agentworker-local"

NO_PROVIDER = (
    "no LLM provider is configured: set OPENAI_API_KEY (with OPENAI_BASE_URL for any other "
    "OpenAI-compatible endpoint) or add an active ai_models row (`agentworker keys "
    "set-provider`); to use the local stand-in LLM on purpose, set AGENTWORKER_LOCAL_LLM=1 and "
    "OPENAI_BASE_URL to it (`agentworker dev` does both)"
)
LOCAL_LLM_WITHOUT_URL = (
    "AGENTWORKER_LOCAL_LLM=1 but OPENAI_BASE_URL is not set: start the local stand-in "
    "(`python -m worker.dev.llm_server --port 8765`) and set "
    "OPENAI_BASE_URL=http://127.0.0.1:8765/v1, or run `agentworker dev`, which does both"
)


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
        AIModel.name, AIModel.base_url, AIModel.api_key_encrypted, AIModel.model, AIModel.config
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
        requests = _per_minute(row.name, row.config, "requests")
        tokens = _per_minute(row.name, row.config, "tokens")
        provider = ProviderConfig(f"ai_models:{row.name}", key, row.base_url, requests, tokens)
        return provider, row.model
    if named is not None:
        raise UnknownProvider(
            f"provider '{named}' is not an active ai_models entry of this tenant or of the "
            "system; add it, or remove 'provider' from the agent's configuration"
        )
    return environment_provider(settings), None


def _per_minute(name: str, config: object, unit: str) -> float | None:
    """A known rate limit from the row's ``config`` (``requests_per_minute`` or
    ``tokens_per_minute``; None: the setting's)."""
    key = f"{unit}_per_minute"
    value = config.get(key) if isinstance(config, dict) else None
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 0:
        raise ConfigurationError(
            f"ai_models '{name}' has config.{key} {value!r}: give a number of {unit} a "
            f'minute (0: not paced), e.g. config {{"{key}": 500}}'
        )
    return float(value)


def environment_provider(settings: Settings) -> ProviderConfig:
    """``OPENAI_API_KEY`` / ``OPENAI_BASE_URL``; an endpoint without a key gets a placeholder
    (the SDK needs one). Neither set: ``NoProviderConfigured``, never a silent stand-in. With
    ``local_llm`` the stand-in is meant, so a missing ``OPENAI_BASE_URL`` is refused rather than
    sending the calls (and any key) to api.openai.com."""
    if settings.local_llm and not settings.openai_base_url:
        raise NoProviderConfigured(LOCAL_LLM_WITHOUT_URL)
    if settings.openai_api_key:
        return ProviderConfig("env", settings.openai_api_key, settings.openai_base_url)
    if settings.openai_base_url:
        return ProviderConfig("env", LOCAL_API_KEY, settings.openai_base_url)
    raise NoProviderConfigured(NO_PROVIDER)


def active_provider_rows(connection: sa.Connection) -> int:
    """How many active ai_models rows (of any tenant, or system-wide) there are: a count
    across tenants, so through a SECURITY DEFINER function (row-level security)."""
    query = sa.text("SELECT agentworker_active_provider_rows()")
    return int(connection.execute(query).scalar_one())


def describe_environment_provider(settings: Settings) -> str:
    """Where a call goes without an ai_models row, in words (a URL without its password);
    ``NoProviderConfigured`` when the environment names no provider."""
    provider = environment_provider(settings)
    if provider.base_url is None:
        return "OPENAI_API_KEY (api.openai.com)"
    shown = redact_text(provider.base_url)
    if settings.local_llm:
        return f"the local stand-in LLM at {shown} (AGENTWORKER_LOCAL_LLM=1)"
    return f"OPENAI_BASE_URL {shown}"
