"""worker/core/settings.py: one typed settings object, read from an environment mapping."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from worker.core.errors import ConfigurationError
from worker.core.settings import DEFAULT_PRICES, Settings


def settings(**environ: str) -> Settings:
    return Settings.from_env(environ)


# --- defaults ---------------------------------------------------------------------------------


def test_an_empty_environment_gives_the_documented_defaults() -> None:
    assert settings() == Settings()


def test_default_values() -> None:
    defaults = settings()

    assert (defaults.default_model, defaults.embedding_model) == (
        "gpt-4o-mini",
        "text-embedding-3-small",
    )
    assert (defaults.llm_timeout_seconds, defaults.llm_max_attempts) == (60.0, 5)
    assert (defaults.llm_backoff_initial_seconds, defaults.llm_backoff_max_seconds) == (0.5, 20.0)
    assert defaults.defer_threshold_seconds == 10.0
    assert (defaults.chunk_size, defaults.chunk_overlap) == (800, 100)
    assert defaults.max_input_bytes == 64 * 1024
    assert defaults.log_level == "INFO"


def test_connections_and_secrets_are_unset_by_default() -> None:
    defaults = settings()

    assert defaults.database_url is None
    assert defaults.broker_url is None
    assert defaults.openai_api_key is None
    assert defaults.openai_base_url is None
    assert defaults.encryption_keys == ()


def test_the_default_price_table_is_used_without_an_override() -> None:
    assert settings().prices == DEFAULT_PRICES


def test_settings_are_frozen() -> None:
    with pytest.raises(ValueError, match="frozen"):
        settings().chunk_size = 10  # type: ignore[misc]


# --- standard names ---------------------------------------------------------------------------


def test_standard_variable_names_are_read() -> None:
    loaded = settings(
        DATABASE_URL="postgresql://db/agentworker",
        OPENAI_API_KEY="sk-test",
        OPENAI_BASE_URL="http://127.0.0.1:9999/v1",
        LOG_LEVEL="DEBUG",
    )

    assert loaded.database_url == "postgresql://db/agentworker"
    assert loaded.openai_api_key == "sk-test"
    assert loaded.openai_base_url == "http://127.0.0.1:9999/v1"
    assert loaded.log_level == "DEBUG"


def test_redis_url_is_the_broker_without_celery_broker_url() -> None:
    assert settings(REDIS_URL="redis://cache:6379/0").broker_url == "redis://cache:6379/0"


def test_celery_broker_url_beats_redis_url() -> None:
    loaded = settings(CELERY_BROKER_URL="redis://broker:6379/1", REDIS_URL="redis://cache:6379/0")

    assert loaded.broker_url == "redis://broker:6379/1"


def test_an_empty_variable_counts_as_unset() -> None:
    loaded = settings(CELERY_BROKER_URL="", REDIS_URL="redis://cache:6379/0")

    assert loaded.broker_url == "redis://cache:6379/0"


# --- AGENTWORKER_* ----------------------------------------------------------------------------


def test_prefixed_floats_are_parsed() -> None:
    loaded = settings(
        AGENTWORKER_LLM_TIMEOUT_SECONDS="12.5", AGENTWORKER_DEFER_THRESHOLD_SECONDS="3"
    )

    assert (loaded.llm_timeout_seconds, loaded.defer_threshold_seconds) == (12.5, 3.0)


def test_prefixed_integers_are_parsed() -> None:
    loaded = settings(AGENTWORKER_LLM_MAX_ATTEMPTS="3", AGENTWORKER_CHUNK_SIZE="400")

    assert (loaded.llm_max_attempts, loaded.chunk_size) == (3, 400)


def test_prefixed_strings_are_read() -> None:
    loaded = settings(
        AGENTWORKER_DEFAULT_MODEL="gpt-4.1-mini", AGENTWORKER_FAULT_POINT="after_llm_call"
    )

    assert (loaded.default_model, loaded.fault_point) == ("gpt-4.1-mini", "after_llm_call")


def test_a_number_that_does_not_parse_names_its_variable() -> None:
    with pytest.raises(ConfigurationError) as caught:
        settings(AGENTWORKER_LLM_TIMEOUT_SECONDS="soon")

    assert str(caught.value).startswith("invalid settings: AGENTWORKER_LLM_TIMEOUT_SECONDS: ")
    assert "valid number" in str(caught.value)


def test_a_fractional_value_for_an_integer_setting_names_its_variable() -> None:
    with pytest.raises(ConfigurationError, match=r"AGENTWORKER_LLM_MAX_ATTEMPTS: .*valid integer"):
        settings(AGENTWORKER_LLM_MAX_ATTEMPTS="2.5")


def test_a_value_out_of_range_names_its_variable_and_the_bound() -> None:
    with pytest.raises(ConfigurationError) as caught:
        settings(AGENTWORKER_LLM_MAX_ATTEMPTS="0")

    assert str(caught.value) == (
        "invalid settings: AGENTWORKER_LLM_MAX_ATTEMPTS: Input should be greater than or equal to 1"
    )


def test_every_invalid_variable_is_reported_at_once() -> None:
    with pytest.raises(ConfigurationError) as caught:
        settings(AGENTWORKER_CHUNK_SIZE="0", AGENTWORKER_LEASE_SECONDS="-1")

    assert "AGENTWORKER_CHUNK_SIZE" in str(caught.value)
    assert "AGENTWORKER_LEASE_SECONDS" in str(caught.value)


def test_a_configuration_error_keeps_the_validation_error_as_its_cause() -> None:
    with pytest.raises(ConfigurationError) as caught:
        settings(AGENTWORKER_DB_POOL_SIZE="none")

    assert caught.value.__cause__ is not None


# --- price table ------------------------------------------------------------------------------


def test_a_price_table_replaces_the_default_prices() -> None:
    table = {"my-model": {"input": 1.25, "output": 5}}

    loaded = settings(AGENTWORKER_PRICE_TABLE=json.dumps(table))

    assert loaded.prices == {"my-model": (Decimal("1.25"), Decimal("5"))}


def test_price_table_prices_are_exact_decimals() -> None:
    loaded = settings(AGENTWORKER_PRICE_TABLE='{"m": {"input": 0.1, "output": 0.3}}')

    assert loaded.price_of("m") == (Decimal("0.1"), Decimal("0.3"))


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("{not json", id="not-json"),
        pytest.param('["gpt-4o"]', id="a-list"),
        pytest.param('{"m": {"input": 1}}', id="missing-output"),
        pytest.param('{"m": [1, 2]}', id="price-not-an-object"),
    ],
)
def test_a_malformed_price_table_is_a_configuration_error_showing_the_format(raw: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        settings(AGENTWORKER_PRICE_TABLE=raw)

    assert str(caught.value).startswith(
        'AGENTWORKER_PRICE_TABLE must be JSON like {"gpt-4o-mini": {"input": 0.15, "output": 0.60}}'
    )


# --- price_of ---------------------------------------------------------------------------------


def test_price_of_an_exact_model_name() -> None:
    assert settings().price_of("gpt-4o") == (Decimal("2.50"), Decimal("10.00"))


def test_a_dated_snapshot_costs_the_longest_matching_family_price() -> None:
    assert settings().price_of("gpt-4o-mini-2024-07-18") == (Decimal("0.15"), Decimal("0.60"))


def test_a_dated_snapshot_of_the_shorter_family_costs_that_family_price() -> None:
    assert settings().price_of("gpt-4o-2024-08-06") == (Decimal("2.50"), Decimal("10.00"))


def test_an_unknown_model_costs_nothing() -> None:
    assert settings().price_of("claude-3-haiku") == (Decimal(0), Decimal(0))


def test_a_model_that_is_only_a_prefix_of_a_known_name_costs_nothing() -> None:
    assert settings().price_of("gpt-4") == (Decimal(0), Decimal(0))


# --- encryption keys --------------------------------------------------------------------------


def test_encryption_keys_are_a_comma_separated_list_in_order() -> None:
    loaded = settings(AGENTWORKER_ENCRYPTION_KEYS="new-key,old-key")

    assert loaded.encryption_keys == ("new-key", "old-key")


def test_encryption_keys_are_trimmed_and_empty_entries_dropped() -> None:
    loaded = settings(AGENTWORKER_ENCRYPTION_KEYS=" new-key , ,old-key ,")

    assert loaded.encryption_keys == ("new-key", "old-key")


def test_a_single_encryption_key_is_a_one_element_tuple() -> None:
    assert settings(AGENTWORKER_ENCRYPTION_KEYS="only-key").encryption_keys == ("only-key",)


# --- traces -----------------------------------------------------------------------------------


def test_traces_are_off_unless_the_standard_variable_asks_for_an_exporter() -> None:
    assert settings().traces_exporter == "none"
    assert settings(OTEL_TRACES_EXPORTER="otlp").traces_exporter == "otlp"
    assert settings(OTEL_TRACES_EXPORTER="none,Console").traces_exporter == "console"
    assert settings(OTEL_TRACES_EXPORTER="otlp", OTEL_SDK_DISABLED="true").traces_exporter == "none"
    assert settings(OTEL_SERVICE_NAME="billing-agents").service_name == "billing-agents"
    assert settings(AGENTWORKER_TRACE_CONTENT="1").trace_content is True


def test_an_exporter_we_do_not_ship_is_refused_naming_the_variable() -> None:
    with pytest.raises(ConfigurationError, match="OTEL_TRACES_EXPORTER: 'zipkin'"):
        settings(OTEL_TRACES_EXPORTER="zipkin")
    with pytest.raises(ConfigurationError, match="OTEL_TRACES_EXPORTER"):
        settings(OTEL_TRACES_EXPORTER="otlp,console")
