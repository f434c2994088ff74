"""Webhook signatures follow Standard Webhooks: the published example signs the same, and
verification refuses what it must."""

from __future__ import annotations

import base64
import random

import pytest

from worker.notifications.retry import backoff_seconds, retry_delay
from worker.notifications.signing import (
    InvalidSignature,
    new_secret,
    sign,
    signed_headers,
    verify,
)

# The example of standard-webhooks/standard-webhooks, libraries/python/tests/test_webhooks.py
# (test_sign_function).
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = '{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_the_specifications_example_signs_to_its_published_signature() -> None:
    assert sign(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY) == SPEC_SIGNATURE
    assert sign(SPEC_SECRET, SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY.encode()) == SPEC_SIGNATURE


def test_the_specifications_example_verifies_and_a_changed_body_does_not() -> None:
    headers = {
        "webhook-id": SPEC_ID,
        "webhook-timestamp": str(SPEC_TIMESTAMP),
        "webhook-signature": f"v1,bm90IGl0 {SPEC_SIGNATURE}",  # any listed signature may match
    }
    verify(SPEC_SECRET, headers, SPEC_BODY, now=SPEC_TIMESTAMP + 10)
    with pytest.raises(InvalidSignature, match="no v1 signature"):
        verify(SPEC_SECRET, headers, SPEC_BODY.replace("4", "5"), now=SPEC_TIMESTAMP)


def test_an_old_timestamp_is_refused_as_a_possible_replay() -> None:
    headers = signed_headers(SPEC_SECRET, SPEC_ID, SPEC_BODY.encode(), timestamp=SPEC_TIMESTAMP)
    with pytest.raises(InvalidSignature, match="more than 300s away"):
        verify(SPEC_SECRET, headers, SPEC_BODY, now=SPEC_TIMESTAMP + 301)


def test_missing_headers_and_another_secret_are_refused() -> None:
    headers = signed_headers(SPEC_SECRET, SPEC_ID, SPEC_BODY.encode(), timestamp=SPEC_TIMESTAMP)
    with pytest.raises(InvalidSignature, match="missing"):
        verify(SPEC_SECRET, {"webhook-id": SPEC_ID}, SPEC_BODY, now=SPEC_TIMESTAMP)
    with pytest.raises(InvalidSignature, match="no v1 signature"):
        verify(new_secret(), headers, SPEC_BODY, now=SPEC_TIMESTAMP)


def test_a_new_secret_is_whsec_and_32_random_bytes() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) == 32
    assert new_secret() != secret


def test_backoff_doubles_within_its_jitter_and_stops_at_the_maximum() -> None:
    rng = random.Random(7)
    for attempt, ceiling in [(1, 5.0), (2, 10.0), (3, 20.0), (10, 60.0)]:
        delays = [backoff_seconds(attempt, initial=5, maximum=60, rng=rng) for _ in range(200)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert max(delays) - min(delays) > ceiling / 4  # jittered, not one fixed value


def test_no_retry_after_the_last_attempt() -> None:
    assert retry_delay(2, 3, initial=1, maximum=10) is not None
    assert retry_delay(3, 3, initial=1, maximum=10) is None
