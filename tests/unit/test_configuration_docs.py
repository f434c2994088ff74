"""Every setting the code reads is documented in .env.example."""

from __future__ import annotations

import re
from pathlib import Path

from worker.core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
STANDARD_NAMES = {
    "database_url": "DATABASE_URL",
    "broker_url": "REDIS_URL",
    "openai_api_key": "OPENAI_API_KEY",
    "openai_base_url": "OPENAI_BASE_URL",
    "log_level": "LOG_LEVEL",
    "traces_exporter": "OTEL_TRACES_EXPORTER",
    "service_name": "OTEL_SERVICE_NAME",
    "prices": "AGENTWORKER_PRICE_TABLE",
    "encryption_keys": "AGENTWORKER_ENCRYPTION_KEYS",
}


def _documented() -> set[str]:
    text = (ROOT / ".env.example").read_text()
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", text, flags=re.MULTILINE))


def test_every_setting_is_documented_in_env_example() -> None:
    expected = {
        STANDARD_NAMES.get(field, f"AGENTWORKER_{field.upper()}") for field in Settings.model_fields
    }
    assert expected - _documented() == set()


def test_every_variable_celeryconfig_reads_is_documented() -> None:
    source = (ROOT / "celeryconfig.py").read_text()
    read = set(re.findall(r'"((?:AGENTWORKER|CELERY|REDIS)_[A-Z0-9_]+)"', source))
    assert read
    assert read - _documented() == set()


def test_the_embedding_dimension_is_documented() -> None:
    assert "AGENTWORKER_EMBEDDING_DIM" in _documented()
