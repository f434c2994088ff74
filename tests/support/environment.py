"""Environments for subprocesses that must start their own services."""

from __future__ import annotations

import os

SERVICE_VARIABLES = frozenset(
    {
        "DATABASE_URL",
        "REDIS_URL",
        "CELERY_BROKER_URL",
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "AGENTWORKER_LOCAL_LLM",
    }
)


def without_services(**extra: str) -> dict[str, str]:
    """This process's environment minus every service URL and provider (key, endpoint, the
    stand-in flag), plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in SERVICE_VARIABLES}
    env.update(extra)
    return env
