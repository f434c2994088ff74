"""worker/llm/retry.py: classifying provider errors, deciding what to do, and backing off."""

from __future__ import annotations

import datetime
import email.utils
import random

import httpx2
import openai
import pytest

from worker.llm.retry import RetryPolicy, backoff, classify, decide, retry_after_seconds

REQUEST = httpx2.Request("POST", "http://x/v1/chat/completions")
POLICY = RetryPolicy(max_attempts=5, backoff_initial=0.5, backoff_max=20.0, defer_threshold=10.0)


def status_error(
    error_class: type[openai.APIStatusError], status: int, headers: dict[str, str] | None = None
) -> openai.APIStatusError:
    response = httpx2.Response(status, headers=headers or {}, request=REQUEST)
    return error_class(f"provider said {status}", response=response, body=None)


def rate_limited(headers: dict[str, str] | None = None) -> openai.APIStatusError:
    return status_error(openai.RateLimitError, 429, headers)


def out_of_quota() -> openai.APIStatusError:
    response = httpx2.Response(429, request=REQUEST)
    body = {"message": "You exceeded your current quota", "code": "insufficient_quota"}
    return openai.RateLimitError("You exceeded your current quota", response=response, body=body)


class BottomOfRange(random.Random):
    """A random source that always picks the lower bound."""

    def uniform(self, a: float, b: float) -> float:
        return a


class TopOfRange(random.Random):
    """A random source that always picks the upper bound, to observe the backoff ceiling."""

    def uniform(self, a: float, b: float) -> float:
        return b


RETRYABLE = [
    pytest.param(status_error(openai.APIStatusError, 408), "http_408", id="408"),
    pytest.param(status_error(openai.ConflictError, 409), "http_409", id="409"),
    pytest.param(rate_limited(), "http_429", id="429"),
    pytest.param(status_error(openai.InternalServerError, 500), "http_500", id="500"),
    pytest.param(status_error(openai.InternalServerError, 502), "http_502", id="502"),
    pytest.param(status_error(openai.InternalServerError, 503), "http_503", id="503"),
    pytest.param(status_error(openai.InternalServerError, 504), "http_504", id="504"),
    pytest.param(status_error(openai.InternalServerError, 599), "http_599", id="other-5xx"),
    pytest.param(openai.APITimeoutError(request=REQUEST), "timeout", id="timeout"),
    pytest.param(openai.APIConnectionError(request=REQUEST), "connection", id="connection"),
]

NEVER_RETRIED = [
    pytest.param(status_error(openai.BadRequestError, 400), "http_400", id="400"),
    pytest.param(status_error(openai.AuthenticationError, 401), "http_401", id="401"),
    pytest.param(status_error(openai.PermissionDeniedError, 403), "http_403", id="403"),
    pytest.param(status_error(openai.NotFoundError, 404), "http_404", id="404"),
    pytest.param(status_error(openai.UnprocessableEntityError, 422), "http_422", id="422"),
    pytest.param(ValueError("a bug of ours"), "unexpected", id="ValueError"),
    pytest.param(out_of_quota(), "insufficient_quota", id="429-out-of-quota"),
]


# --- classify ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("error", "kind"), RETRYABLE)
def test_transient_provider_errors_are_classified_retryable(
    error: BaseException, kind: str
) -> None:
    info = classify(error)

    assert (info.kind, info.retryable) == (kind, True)


@pytest.mark.parametrize(("error", "kind"), NEVER_RETRIED)
def test_client_errors_and_non_provider_errors_are_classified_not_retryable(
    error: BaseException, kind: str
) -> None:
    info = classify(error)

    assert (info.kind, info.retryable) == (kind, False)


def test_classify_reports_the_http_status_code() -> None:
    assert classify(status_error(openai.NotFoundError, 404)).status_code == 404


def test_timeouts_and_connection_errors_have_no_status_code() -> None:
    assert classify(openai.APITimeoutError(request=REQUEST)).status_code is None
    assert classify(openai.APIConnectionError(request=REQUEST)).status_code is None


def test_classify_reads_retry_after_from_the_response_headers() -> None:
    assert classify(rate_limited({"Retry-After": "2"})).retry_after == 2.0


def test_classify_without_retry_after_header_has_no_retry_after() -> None:
    assert classify(rate_limited()).retry_after is None


# --- retry_after_seconds ----------------------------------------------------------------------


def test_retry_after_in_seconds_is_parsed() -> None:
    assert retry_after_seconds({"retry-after": "7"}) == 7.0


def test_retry_after_may_be_fractional_seconds() -> None:
    assert retry_after_seconds({"retry-after": "1.5"}) == 1.5


def test_retry_after_ms_is_converted_to_seconds() -> None:
    assert retry_after_seconds({"retry-after-ms": "1500"}) == 1.5


def test_retry_after_ms_takes_precedence_over_retry_after() -> None:
    assert retry_after_seconds({"retry-after-ms": "250", "retry-after": "9"}) == 0.25


def test_an_unparseable_retry_after_ms_falls_back_to_retry_after() -> None:
    assert retry_after_seconds({"retry-after-ms": "soon", "retry-after": "3"}) == 3.0


def test_retry_after_as_an_http_date_is_seconds_from_now() -> None:
    moment = datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.UTC)
    header = email.utils.format_datetime(moment, usegmt=True)

    assert retry_after_seconds({"retry-after": header}, now=moment.timestamp() - 30) == 30.0


def test_retry_after_as_an_http_date_in_the_past_is_zero() -> None:
    moment = datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.UTC)
    header = email.utils.format_datetime(moment, usegmt=True)

    assert retry_after_seconds({"retry-after": header}, now=moment.timestamp() + 60) == 0.0


def test_a_negative_retry_after_is_clamped_to_zero() -> None:
    assert retry_after_seconds({"retry-after": "-5"}) == 0.0


def test_absent_retry_after_is_none() -> None:
    assert retry_after_seconds({}) is None


def test_an_empty_retry_after_is_none() -> None:
    assert retry_after_seconds({"retry-after": ""}) is None


def test_headers_without_a_get_method_have_no_retry_after() -> None:
    assert retry_after_seconds(None) is None


def test_retry_after_header_names_are_case_insensitive_on_real_responses() -> None:
    headers = httpx2.Response(429, headers={"Retry-After-Ms": "400"}, request=REQUEST).headers

    assert retry_after_seconds(headers) == 0.4


# --- decide -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("error", "kind"), NEVER_RETRIED)
def test_non_retryable_errors_fail_on_the_first_attempt(error: BaseException, kind: str) -> None:
    decision = decide(error, 1, POLICY, random.Random(0))

    assert (decision.action, decision.wait) == ("fail", 0.0)
    assert decision.reason == f"{kind} is not retryable"


@pytest.mark.parametrize(("error", "kind"), RETRYABLE)
def test_retryable_errors_are_retried_before_the_last_attempt(
    error: BaseException, kind: str
) -> None:
    decision = decide(error, 1, POLICY, random.Random(0))

    assert decision.action == "retry"
    assert kind in decision.reason


def test_a_retry_without_retry_after_waits_the_jittered_backoff() -> None:
    decision = decide(openai.APITimeoutError(request=REQUEST), 3, POLICY, random.Random(42))

    assert decision.wait == backoff(3, POLICY, random.Random(42))


def test_a_short_retry_after_is_waited_at_least_in_full() -> None:
    decision = decide(rate_limited({"retry-after": "3"}), 1, POLICY, BottomOfRange())

    assert (decision.action, decision.wait) == ("retry", 3.0)
    assert decision.reason == "http_429: Retry-After 3s"


def test_a_retry_after_wait_gets_up_to_half_as_long_again_of_jitter() -> None:
    decision = decide(rate_limited({"retry-after": "3"}), 1, POLICY, TopOfRange())

    assert (decision.action, decision.wait) == ("retry", 4.5)


def test_retries_told_the_same_retry_after_do_not_come_back_together() -> None:
    rng = random.Random(3)

    waits = [decide(rate_limited({"retry-after": "1"}), 1, POLICY, rng).wait for _ in range(20)]

    assert all(1.0 <= wait <= 1.5 for wait in waits)
    assert len(set(waits)) == 20


def test_a_retry_after_of_zero_still_gets_some_jitter() -> None:
    decision = decide(rate_limited({"retry-after": "0"}), 1, POLICY, TopOfRange())

    assert decision.wait == POLICY.retry_after_jitter * POLICY.backoff_initial


def test_a_retry_after_equal_to_the_threshold_is_still_waited() -> None:
    decision = decide(rate_limited({"retry-after": "10"}), 1, POLICY, BottomOfRange())

    assert (decision.action, decision.wait) == ("retry", 10.0)


def test_a_retry_after_in_milliseconds_is_waited_in_seconds() -> None:
    decision = decide(rate_limited({"retry-after-ms": "1500"}), 1, POLICY, BottomOfRange())

    assert (decision.action, decision.wait) == ("retry", 1.5)


def test_a_retry_after_longer_than_the_threshold_defers_the_run() -> None:
    decision = decide(rate_limited({"retry-after": "30"}), 1, POLICY, BottomOfRange())

    assert (decision.action, decision.wait) == ("defer", 30.0)
    assert decision.reason == "provider asked to wait 30s (over 10s)"


def test_a_deferral_countdown_is_jittered_too() -> None:
    decision = decide(rate_limited({"retry-after": "30"}), 1, POLICY, TopOfRange())

    assert (decision.action, decision.wait) == ("defer", 45.0)


def test_a_server_error_with_a_long_retry_after_defers_as_well() -> None:
    error = status_error(openai.InternalServerError, 503, {"retry-after": "60"})

    assert decide(error, 1, POLICY, BottomOfRange()).action == "defer"


def test_a_retry_after_http_date_far_ahead_defers_the_run() -> None:
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=5)
    header = email.utils.format_datetime(later, usegmt=True)

    decision = decide(rate_limited({"retry-after": header}), 1, POLICY, random.Random(0))

    assert decision.action == "defer"
    assert 250 < decision.wait <= 450


def test_a_retryable_error_fails_once_max_attempts_is_reached() -> None:
    error = status_error(openai.InternalServerError, 503)

    decision = decide(error, POLICY.max_attempts, POLICY, random.Random(0))

    assert (decision.action, decision.wait) == ("fail", 0.0)
    assert decision.reason == "http_503: gave up after 5 attempts"


def test_the_attempt_before_the_last_is_still_retried() -> None:
    error = status_error(openai.InternalServerError, 503)

    assert decide(error, POLICY.max_attempts - 1, POLICY, random.Random(0)).action == "retry"


def test_a_server_error_with_a_short_retry_after_on_the_last_attempt_fails() -> None:
    error = status_error(openai.InternalServerError, 503, {"retry-after": "1"})

    assert decide(error, 5, POLICY, random.Random(0)).action == "fail"


# --- rate limits: their own budget --------------------------------------------------------


@pytest.mark.parametrize("count", [5, 6, 50])
def test_rate_limits_do_not_use_up_the_attempt_budget(count: int) -> None:
    decision = decide(rate_limited({"retry-after": "1"}), count, POLICY, random.Random(0))

    assert decision.action == "retry"


def test_a_rate_limit_is_waited_out_in_the_worker_while_the_total_stays_under_the_threshold() -> (
    None
):
    decision = decide(
        rate_limited({"retry-after": "1"}), 3, POLICY, BottomOfRange(), rate_limit_waited=8.5
    )

    assert (decision.action, decision.wait) == ("retry", 1.0)


def test_a_rate_limit_that_persists_past_the_threshold_defers_instead_of_failing() -> None:
    decision = decide(
        rate_limited({"retry-after": "1"}), 12, POLICY, BottomOfRange(), rate_limit_waited=9.5
    )

    assert (decision.action, decision.wait) == ("defer", 1.0)
    assert "rate limited" in decision.reason and "9.5s" in decision.reason


def test_a_rate_limit_without_retry_after_backs_off_by_how_many_came_before() -> None:
    decision = decide(rate_limited(), 4, POLICY, TopOfRange())

    assert (decision.action, decision.wait) == ("retry", 4.0)


def test_rate_limit_waiting_does_not_change_what_a_server_error_decides() -> None:
    error = status_error(openai.InternalServerError, 503)

    decision = decide(error, 2, POLICY, random.Random(0), rate_limit_waited=100.0)

    assert decision.action == "retry"


def test_classify_tells_a_rate_limit_from_other_errors() -> None:
    assert classify(rate_limited()).rate_limited
    assert not classify(status_error(openai.InternalServerError, 503)).rate_limited
    assert not classify(out_of_quota()).rate_limited


def test_an_exhausted_quota_is_not_waited_for() -> None:
    decision = decide(out_of_quota(), 1, POLICY, random.Random(0))

    assert decision.action == "fail"


def test_decide_without_a_random_source_still_stays_within_the_backoff_bounds() -> None:
    decision = decide(openai.APIConnectionError(request=REQUEST), 2, POLICY)

    assert decision.action == "retry"
    assert 0.0 <= decision.wait <= 1.0


# --- backoff ----------------------------------------------------------------------------------


@pytest.mark.parametrize("attempt", range(1, 11))
def test_backoff_is_between_zero_and_the_capped_exponential(attempt: int) -> None:
    rng = random.Random(attempt)
    ceiling = min(POLICY.backoff_max, POLICY.backoff_initial * 2 ** (attempt - 1))

    waits = [backoff(attempt, POLICY, rng) for _ in range(200)]

    assert all(0.0 <= wait <= ceiling for wait in waits)


def test_backoff_uses_full_jitter_down_to_near_zero() -> None:
    rng = random.Random(7)

    waits = [backoff(4, POLICY, rng) for _ in range(200)]

    assert min(waits) < 0.1 * 4.0
    assert max(waits) > 0.9 * 4.0


def test_backoff_ceiling_doubles_with_each_attempt() -> None:
    ceilings = [backoff(attempt, POLICY, TopOfRange()) for attempt in range(1, 6)]

    assert ceilings == [0.5, 1.0, 2.0, 4.0, 8.0]


def test_backoff_growth_is_capped_at_backoff_max() -> None:
    ceilings = [backoff(attempt, POLICY, TopOfRange()) for attempt in (6, 7, 10, 50)]

    assert ceilings == [16.0, 20.0, 20.0, 20.0]


def test_backoff_is_reproducible_with_the_same_seed() -> None:
    first = [backoff(n, POLICY, random.Random(99)) for n in range(1, 8)]
    second = [backoff(n, POLICY, random.Random(99)) for n in range(1, 8)]

    assert first == second


def test_backoff_with_a_zero_initial_delay_never_waits() -> None:
    policy = RetryPolicy(backoff_initial=0.0)

    assert backoff(5, policy, TopOfRange()) == 0.0
