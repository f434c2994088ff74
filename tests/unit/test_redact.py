from __future__ import annotations

import base64
import copy
import datetime
import time
import uuid
from decimal import Decimal

import pytest

from worker.security.redact import (
    REDACTED,
    looks_secret_key,
    redact,
    redact_text,
    secrets_from_environment,
)

OPENAI_KEY = "sk-proj-Abc123def456ghi789jkl0"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"


# --- structures -------------------------------------------------------------------------------


def test_values_under_secret_keys_are_replaced_in_nested_dicts_and_lists() -> None:
    event = {
        "request": {"headers": [{"Authorization": "Basic dXNlcjpwYXNz"}], "api_key": "abc"},
        "model": "gpt-4o-mini",
    }

    assert redact(event) == {
        "request": {"headers": [{"Authorization": REDACTED}], "api_key": REDACTED},
        "model": "gpt-4o-mini",
    }


def test_a_secret_key_hides_its_whole_value_even_when_it_is_a_structure() -> None:
    assert redact({"credentials": {"user": "bob", "pin": 1234}}) == {"credentials": REDACTED}


def test_none_under_a_secret_key_stays_none() -> None:
    assert redact({"api_key": None}) == {"api_key": None}


def test_strings_anywhere_are_scrubbed() -> None:
    assert redact(["use", {"note": f"key is {OPENAI_KEY}"}]) == [
        "use",
        {"note": f"key is {REDACTED}"},
    ]


def test_numbers_booleans_and_none_are_returned_unchanged() -> None:
    values = [0, 1.5, True, None, Decimal("0.15")]

    assert redact(values) == values


def test_uuids_and_datetimes_are_returned_unchanged() -> None:
    identifier = uuid.uuid4()
    moment = datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)

    assert redact({"id": identifier, "at": moment}) == {"id": identifier, "at": moment}


def test_tuples_stay_tuples() -> None:
    assert redact(("a", OPENAI_KEY)) == ("a", REDACTED)


def test_other_objects_become_their_redacted_repr() -> None:
    class Client:
        def __repr__(self) -> str:
            return f"Client(api_key='{OPENAI_KEY}')"

    assert redact({"client": Client()}) == {"client": f"Client(api_key='{REDACTED}')"}


def test_the_original_is_not_mutated() -> None:
    original = {"password": "hunter2", "items": [{"token": "abc"}, f"Bearer {OPENAI_KEY}"]}
    snapshot = copy.deepcopy(original)

    redact(original)

    assert original == snapshot


def test_the_result_is_a_copy_not_the_same_containers() -> None:
    original = {"items": [1, 2]}

    result = redact(original)
    result["items"].append(3)

    assert original == {"items": [1, 2]}


# --- which keys are secret --------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "api_key",
        "OPENAI_API_KEY",
        "apiKey",
        "x-api-key",
        "X-Api-Key",
        "password",
        "db.password",
        "passwd",
        "secret",
        "client_secret",
        "token",
        "access_token",
        "refreshToken",
        "id_token",
        "auth",
        "Authorization",
        "cookie",
        "Set-Cookie",
        "private_key",
        "privateKey",
        "credentials",
        "session key",
        "bearer",
    ],
)
def test_keys_that_name_secrets_are_secret(key: str) -> None:
    assert looks_secret_key(key)


@pytest.mark.parametrize(
    "key",
    [
        "prompt_tokens",
        "completion_tokens",
        "max_tokens",
        "total_tokens",
        "token_count",
        "promptTokens",
        "tokenizer",
        "author",
        "key",
        "idempotency_key_hint",
        "secret_name",
        "model",
    ],
)
def test_token_counts_and_ordinary_keys_are_not_secret(key: str) -> None:
    assert not looks_secret_key(key)


def test_token_usage_survives_redaction() -> None:
    usage = {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150, "max_tokens": 9}

    assert redact({"usage": usage}) == {"usage": usage}


# --- text patterns ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(f"key {OPENAI_KEY} end", f"key {REDACTED} end", id="openai-project-key"),
        pytest.param(
            "old sk-" + "abcdefghijklmnop1234 key", f"old {REDACTED} key", id="openai-legacy-key"
        ),
        pytest.param("Bearer abcdef123456.xyz", f"Bearer {REDACTED}", id="bearer-keeps-the-word"),
        pytest.param("id AKIA" + "IOSFODNN7EXAMPLE.", f"id {REDACTED}.", id="aws-access-key-id"),
        pytest.param(f"jwt={JWT};", f"jwt={REDACTED};", id="jwt"),
        pytest.param(
            "gh: ghp_abcdefghijklmnopqrstuvwxyz0123456789 ok", f"gh: {REDACTED} ok", id="github"
        ),
        pytest.param("slack xoxb-123456789012-abcdefABCDEF ok", f"slack {REDACTED} ok", id="slack"),
        pytest.param(
            "a\n-----BEGIN RSA " + "PRIVATE KEY-----\nMIIEpAIB\nAAKCAQEA\n"
            "-----END RSA PRIVATE KEY-----\nb",
            f"a\n{REDACTED}\nb",
            id="pem-private-key",
        ),
        pytest.param(
            "cut -----BEGIN " + "PRIVATE KEY-----\nMIIEpAIB", f"cut {REDACTED}", id="truncated-pem"
        ),
        pytest.param(
            "password=hunter2&user=bob", f"password={REDACTED}&user=bob", id="password-equals"
        ),
        pytest.param(
            "db_password: hunter2, retrying", f"db_password: {REDACTED}, retrying", id="colon"
        ),
        pytest.param(
            "Authorization: Basic dXNlcjpwYXNz",
            f"Authorization: Basic {REDACTED}",
            id="authorization-header",
        ),
        pytest.param("Cookie: a=1; sid=xyz\nHost: x", f"Cookie: {REDACTED}\nHost: x", id="cookie"),
        pytest.param(
            '{"api_key": "abc\\"123", "query": "cats"}',
            f'{{"api_key": "{REDACTED}", "query": "cats"}}',
            id="json-text",
        ),
        pytest.param("{'token': 'abc 123'}", f"{{'token': '{REDACTED}'}}", id="python-repr"),
        pytest.param(
            '{\\"secret\\": \\"abc\\"}', f'{{\\"secret\\": \\"{REDACTED}\\"}}', id="escaped-json"
        ),
    ],
)
def test_credentials_in_text_are_replaced_and_the_rest_kept(text: str, expected: str) -> None:
    assert redact_text(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "prompt_tokens=120 completion_tokens: 30 token_count=4",
        "the bearer of bad news",
        "author: Jane Doe",
        "disk-partition-abcdefghijklmnop",
        "task-1234567890abcdefgh",
        "see https://example.com:8443/path@v2",
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert redact_text(text) == text


def test_url_passwords_are_replaced_and_user_and_host_kept() -> None:
    text = "connecting to postgresql+psycopg://app:s3cr%40t@db:5432/agents"

    assert redact_text(text) == f"connecting to postgresql+psycopg://app:{REDACTED}@db:5432/agents"


def test_url_passwords_without_a_user_are_replaced() -> None:
    assert redact_text("redis://:pw123@localhost:6379/0") == f"redis://:{REDACTED}@localhost:6379/0"


def test_url_passwords_containing_at_signs_are_replaced_whole() -> None:
    assert redact_text("amqp://u:p@ss@broker/") == f"amqp://u:{REDACTED}@broker/"


def test_redacting_twice_changes_nothing_more() -> None:
    text = f"Authorization: Bearer {OPENAI_KEY}; password='x y' https://u:p@h Cookie: a=b"

    once = redact_text(text)

    assert redact_text(once) == once


# --- known secrets ----------------------------------------------------------------------------


def test_known_secrets_are_replaced_wherever_they_occur() -> None:
    text = "the tenant's key is tenant-secret-42, again: tenant-secret-42!"

    assert redact_text(text, known_secrets=["tenant-secret-42"]) == (
        f"the tenant's key is {REDACTED}, again: {REDACTED}!"
    )


def test_known_secrets_shorter_than_six_characters_are_ignored() -> None:
    assert redact_text("value abc in text", known_secrets=["abc"]) == "value abc in text"


def test_a_known_secret_containing_another_is_replaced_whole() -> None:
    text = "x longsecret-123456 y"

    result = redact_text(text, known_secrets=["secret-123", "longsecret-123456"])

    assert result == f"x {REDACTED} y"


def test_known_secrets_apply_inside_structures() -> None:
    assert redact({"note": ["hunter2hunter2"]}, known_secrets={"hunter2hunter2"}) == {
        "note": [REDACTED]
    }


def test_a_single_string_is_refused_as_known_secrets() -> None:
    with pytest.raises(TypeError, match="collection of strings"):
        redact_text("text", known_secrets="hunter2hunter2")


# --- the worker's own environment -------------------------------------------------------------


def test_environment_secrets_are_collected_by_variable_name() -> None:
    environ = {
        "OPENAI_API_KEY": "sk-test-0123456789",
        "SMTP_PASSWORD": "mail-password",
        "WEBHOOK_SECRET": "whsec_123456",
        "GITHUB_TOKEN": "gh-token-value",
        "HOME": "/home/worker",
        "LOG_LEVEL": "DEBUG_VERBOSE",
    }

    assert secrets_from_environment(environ) == {
        "sk-test-0123456789",
        "mail-password",
        "whsec_123456",
        "gh-token-value",
    }


def test_environment_encryption_keys_are_split_on_commas() -> None:
    new, old = "new-key-aaaaaaaa", "old-key-bbbbbbbb"

    found = secrets_from_environment({"AGENTWORKER_ENCRYPTION_KEYS": f"{new}, {old}"})

    assert {new, old} <= found


def test_environment_url_passwords_are_collected_raw_and_decoded() -> None:
    environ = {
        "DATABASE_URL": "postgresql://app:pa%40ssword@db/agents",
        "CELERY_BROKER_URL": "redis://:broker-pass-1@redis:6379/0",
    }

    assert secrets_from_environment(environ) == {"pa%40ssword", "pa@ssword", "broker-pass-1"}


def test_environment_values_shorter_than_eight_characters_are_ignored() -> None:
    assert secrets_from_environment({"API_TOKEN": "short", "DATABASE_URL": "pg://u:pw@h"}) == set()


def test_environment_secrets_can_be_scrubbed_from_text() -> None:
    secrets = secrets_from_environment({"INTERNAL_SERVICE_TOKEN": "opaque-value-987"})

    assert redact_text("called with opaque-value-987", known_secrets=secrets) == (
        f"called with {REDACTED}"
    )


# --- cost -------------------------------------------------------------------------------------


def test_long_unbroken_text_is_scanned_without_backtracking_blowup() -> None:
    blob = base64.b64encode(bytes(range(256)) * 1200).decode() + " token" + "a" * 100_000
    started = time.perf_counter()

    redact_text(blob)

    assert time.perf_counter() - started < 2.0
