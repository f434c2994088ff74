"""The LLM gateway: every LLM call goes through here (DESIGN §6).

One ``openai`` client per provider configuration, all sharing one HTTP connection pool per
process; the SDK's own retries are off (``max_retries=0``) so that tenacity, driven by the pure
policy in ``worker.llm.retry``, is the one retry policy. Each attempt is reported to
``on_attempt`` (the caller persists latency and failures); token usage and cost are counted per
call.

Every call waits its turn at its provider's limiter (``worker.llm.limiter``: pacing to the
provider's known requests and tokens per minute, and holding every caller back after a 429),
shared by every process through the broker's Redis (``worker.llm.shared_limiter``).
``llm_timeout_seconds`` bounds each attempt as a whole (``worker.llm.attempt_deadline``), and a
call given the run's ``deadline`` starts no attempt and sleeps no retry past it: it raises
``LLMTimedOut``. A wait too long for a worker slot (a long Retry-After, a rate limit that
persists) raises ``LLMDeferred``: the run is re-published later, without using an attempt.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import openai
import tenacity

from worker.core.errors import AgentWorkerError
from worker.core.settings import Settings
from worker.llm import token_estimate
from worker.llm.attempt_deadline import attempt_deadline, with_attempt_deadlines
from worker.llm.limiter import Limiters, RateLimiter, Turn, WaitTooLong
from worker.llm.retry import Decision, RetryPolicy, classify, decide, jittered

_MILLION = Decimal(1_000_000)


@dataclass(frozen=True)
class ProviderConfig:
    """Where to send a call. ``name`` says where the config came from (for events and logs);
    ``requests_per_minute`` and ``tokens_per_minute`` are the provider's known limits (None:
    the ``llm_requests_per_minute`` / ``llm_tokens_per_minute`` settings; 0: not paced)."""

    name: str
    api_key: str = field(repr=False)
    base_url: str | None = None
    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None

    @property
    def cache_key(self) -> str:
        digest = hashlib.sha256(self.api_key.encode()).hexdigest()[:16]
        return f"{self.base_url or 'default'}|{digest}"


@dataclass(frozen=True)
class Attempt:
    number: int
    started_at: datetime
    latency_ms: float
    ok: bool
    error_kind: str | None = None
    status_code: int | None = None
    error_message: str | None = None


AttemptListener = Callable[[Attempt], None]


@dataclass(frozen=True)
class ChatResult:
    message: dict[str, Any]
    finish_reason: str | None
    model: str
    prompt_tokens: int
    completion_tokens: int
    cost: Decimal
    attempts: tuple[Attempt, ...]

    @property
    def content(self) -> str | None:
        value = self.message.get("content")
        return value if isinstance(value, str) else None

    @property
    def tool_calls(self) -> list[dict[str, Any]]:
        return list(self.message.get("tool_calls") or [])


@dataclass(frozen=True)
class EmbeddingResult:
    vectors: list[list[float]]
    model: str
    prompt_tokens: int
    cost: Decimal
    attempts: tuple[Attempt, ...]


class LLMCallFailed(AgentWorkerError):
    """The provider refused or kept failing; ``attempts`` says what was tried."""

    code = "llm_failed"

    def __init__(
        self, message: str, *, attempts: Sequence[Attempt], status_code: int | None
    ) -> None:
        super().__init__(message)
        self.attempts = tuple(attempts)
        self.status_code = status_code


class LLMTimedOut(LLMCallFailed):
    """The run's deadline came before the call could succeed; it was not retried past it."""

    code = "timed_out"


class LLMDeferred(AgentWorkerError):
    """The provider asked for a wait too long to sleep through; re-publish after ``countdown``."""

    code = "llm_deferred"
    retryable = True
    hands_back = True  # not a failure of the call's span (worker.core.tracing)

    def __init__(self, message: str, *, countdown: float, attempts: Sequence[Attempt]) -> None:
        super().__init__(message)
        self.countdown = countdown
        self.attempts = tuple(attempts)


class LLMGateway:
    def __init__(
        self,
        settings: Settings,
        *,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
        max_connections: int = 256,
        limiters: Limiters | None = None,
    ) -> None:
        self.settings = settings
        self.policy = RetryPolicy(
            max_attempts=settings.llm_max_attempts,
            backoff_initial=settings.llm_backoff_initial_seconds,
            backoff_max=settings.llm_backoff_max_seconds,
            defer_threshold=settings.defer_threshold_seconds,
        )
        self._sleep = sleep
        self._rng = rng or random.Random()
        if limiters is None:
            from worker.llm.shared_limiter import limiters_for

            limiters = limiters_for(settings)
        self._limiters = limiters
        self._max_connections = max_connections
        self._http_client: Any = None
        self._clients: dict[str, openai.OpenAI] = {}
        self._lock = threading.Lock()

    # -- clients ---------------------------------------------------------------------------

    def client(self, provider: ProviderConfig) -> openai.OpenAI:
        with self._lock:
            client = self._clients.get(provider.cache_key)
            if client is None:
                if self._http_client is None:
                    self._http_client = openai.DefaultHttpxClient(
                        transport=with_attempt_deadlines(_limits(self._max_connections))
                    )
                client = openai.OpenAI(
                    api_key=provider.api_key,
                    base_url=provider.base_url,
                    max_retries=0,
                    timeout=self.settings.llm_timeout_seconds,
                    http_client=self._http_client,
                )
                self._clients[provider.cache_key] = client
            return client

    def close(self) -> None:
        with self._lock:
            self._clients.clear()
            if self._http_client is not None:
                self._http_client.close()
                self._http_client = None

    # -- calls -----------------------------------------------------------------------------

    def chat(
        self,
        provider: ProviderConfig,
        *,
        model: str,
        messages: Sequence[dict[str, Any]],
        tools: Sequence[dict[str, Any]] | None = None,
        temperature: float | None = None,
        max_tokens: int | None = None,
        response_format: dict[str, Any] | None = None,
        on_attempt: AttemptListener | None = None,
        deadline: float | None = None,
    ) -> ChatResult:
        """One chat completion. ``deadline`` (a ``time.monotonic()`` instant, the run's):
        no attempt starts and no retry waits past it; ``LLMTimedOut`` then."""
        # The conversation and the tools are already the API's JSON: they go in ``extra_body``,
        # which the SDK sends as given. Passed as ``messages=``/``tools=``, create() walks every
        # message through its TypedDict transform on each call (0.5 ms at 4 messages, growing
        # with the conversation: a tenth of a worker's CPU per task in ``make bench``).
        body: dict[str, Any] = {"messages": list(messages)}
        if tools:
            body["tools"] = list(tools)
        options: dict[str, Any] = {"model": model, "messages": [], "extra_body": body}
        if temperature is not None:
            options["temperature"] = temperature
        if max_tokens is not None:
            options["max_tokens"] = max_tokens
        if response_format is not None:
            options["response_format"] = response_format
        client = self.client(provider)
        response, attempts = self._with_retries(
            provider,
            lambda timeout: client.chat.completions.create(**options, timeout=timeout),
            on_attempt,
            deadline,
            lambda: token_estimate.chat_tokens(messages, tools, max_tokens),
        )
        choice = response.choices[0]
        usage = response.usage
        prompt_tokens = usage.prompt_tokens if usage else 0
        completion_tokens = usage.completion_tokens if usage else 0
        return ChatResult(
            message=_assistant_message(choice.message),
            finish_reason=choice.finish_reason,
            model=response.model or model,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            cost=self.cost(model, prompt_tokens, completion_tokens),
            attempts=attempts,
        )

    def embed(
        self,
        provider: ProviderConfig,
        *,
        model: str,
        texts: Sequence[str],
        dimensions: int | None = None,
        on_attempt: AttemptListener | None = None,
        deadline: float | None = None,
    ) -> EmbeddingResult:
        options: dict[str, Any] = {"model": model, "input": list(texts)}
        if dimensions is not None:
            options["dimensions"] = dimensions
        client = self.client(provider)
        response, attempts = self._with_retries(
            provider,
            lambda timeout: client.embeddings.create(**options, timeout=timeout),
            on_attempt,
            deadline,
            lambda: token_estimate.embedding_tokens(texts),
        )
        vectors = [list(item.embedding) for item in sorted(response.data, key=lambda d: d.index)]
        tokens = response.usage.prompt_tokens if response.usage else 0
        return EmbeddingResult(
            vectors=vectors,
            model=model,
            prompt_tokens=tokens,
            cost=self.cost(model, tokens, 0),
            attempts=attempts,
        )

    def cost(self, model: str, prompt_tokens: int, completion_tokens: int) -> Decimal:
        price_in, price_out = self.settings.price_of(model)
        return (prompt_tokens * price_in + completion_tokens * price_out) / _MILLION

    # -- retries ---------------------------------------------------------------------------

    def _with_retries(
        self,
        provider: ProviderConfig,
        call: Callable[[float], Any],
        on_attempt: AttemptListener | None,
        deadline: float | None,
        estimate: Callable[[], int],
    ) -> tuple[Any, tuple[Attempt, ...]]:
        """Call until it succeeds, fails, defers or reaches ``deadline``. Errors and rate
        limits are counted apart: a 429 never uses an attempt of ``max_attempts``. With a
        tokens-per-minute limit each attempt reserves ``estimate()`` tokens, settled to the
        reply's usage (a refused attempt gives them back)."""
        limiter = self._limiter(provider)
        call_state = _CallState(deadline)
        tokens = estimate() if limiter.limits_tokens else 0

        def retry(error: BaseException) -> bool:
            if isinstance(error, LLMCallFailed | LLMDeferred) or not isinstance(error, Exception):
                return False  # our own decision (raised while waiting a turn), or not an error
            self._after_failure(limiter, call_state, error, call_state.cut_by_deadline)
            return True

        # tenacity drives the loop; what to do after each failure is ``_after_failure``'s, from
        # the pure policy in ``worker.llm.retry``: it raises to stop (fail, defer, time out).
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(retry),
            wait=lambda _: call_state.next_wait,
            stop=tenacity.stop_never,
            sleep=self._sleep,
            reraise=True,
        )
        result: Any = None
        for attempt in retrying:
            with attempt:
                turn = self._wait_turn(limiter, call_state, tokens)
                ends = time.monotonic() + self.settings.llm_timeout_seconds
                call_state.cut_by_deadline = deadline is not None and deadline <= ends
                ends = min(ends, deadline) if deadline is not None else ends
                started, t0 = datetime.now(UTC), time.perf_counter()
                try:
                    with attempt_deadline(ends):
                        result = call(max(ends - time.monotonic(), 0.001))
                except Exception as error:
                    if turn.key is not None and classify(error).status_code == 429:
                        limiter.settle(turn, 0)  # refused: the provider counted nothing
                    self._record(call_state, on_attempt, started, t0, error)
                    raise
                if turn.key is not None:
                    limiter.settle(turn, _tokens_used(result, turn.tokens))
                self._record(call_state, on_attempt, started, t0, None)
        return result, tuple(call_state.attempts)

    def _limiter(self, provider: ProviderConfig) -> RateLimiter:
        """The provider's limiter, paced to ``llm_rate_limit_share`` of its known limits."""
        settings = self.settings
        requests = provider.requests_per_minute
        if requests is None:
            requests = settings.llm_requests_per_minute
        tokens = provider.tokens_per_minute
        if tokens is None:
            tokens = settings.llm_tokens_per_minute
        share = settings.llm_rate_limit_share
        return self._limiters.get(
            provider.cache_key,
            requests_per_minute=requests * share,
            tokens_per_minute=tokens * share,
        )

    def _wait_turn(self, limiter: RateLimiter, state: _CallState, tokens: int) -> Turn:
        """Wait for the provider's turn (pacing, a 429's hold) within what the call may wait
        in a worker slot and before its deadline; defer or time out beyond."""
        max_wait = self.policy.defer_threshold - state.rate_limit_waited
        if state.deadline is not None:
            max_wait = min(max_wait, state.deadline - time.monotonic())
        turn = Turn(0.0)
        try:
            turn = limiter.reserve(tokens, max_wait=max(max_wait, 0.0))
            state.rate_limit_waited += turn.waited
        except WaitTooLong as refusal:
            reason = f"the provider's rate limit leaves no turn for {refusal.wait:.1f}s"
            self._defer(state, Decision("defer", refusal.wait, reason), jitter=True)
        if state.deadline is not None and time.monotonic() >= state.deadline:
            limiter.settle(turn, 0)
            raise self._timed_out(state, "no attempt may start after the run's deadline")
        return turn

    def _after_failure(
        self,
        limiter: RateLimiter,
        state: _CallState,
        error: Exception,
        cut_by_deadline: bool,
    ) -> None:
        """Decide what a failed attempt leads to: raise (fail, defer, time out), or set the
        wait that comes before the next attempt."""
        info = classify(error)
        if info.rate_limited:
            state.rate_limits += 1
            decision = decide(
                error,
                state.rate_limits,
                self.policy,
                self._rng,
                rate_limit_waited=state.rate_limit_waited,
            )
        else:
            state.errors += 1
            decision = decide(error, state.errors, self.policy, self._rng)
        if decision.action == "fail":
            raise LLMCallFailed(
                _failure_message(error, info.status_code, len(state.attempts), decision),
                attempts=state.attempts,
                status_code=info.status_code,
            ) from error
        past_deadline = state.deadline is not None and time.monotonic() >= state.deadline
        if past_deadline or (cut_by_deadline and info.kind == "timeout"):
            raise self._timed_out(state, f"the last attempt ended with {info.kind}") from error
        if decision.action == "defer":
            self._defer(state, decision, jitter=False, error=error)
        if info.rate_limited:
            limiter.rate_limited(decision.wait)  # the next turn waits it out, with every caller
            state.next_wait = 0.0
            return
        if state.deadline is not None and time.monotonic() + decision.wait >= state.deadline:
            raise self._timed_out(
                state, f"the retry after {info.kind} would start after the run's deadline"
            ) from error
        state.next_wait = decision.wait

    def _defer(
        self,
        state: _CallState,
        decision: Decision,
        *,
        jitter: bool,
        error: BaseException | None = None,
    ) -> None:
        countdown = jittered(decision.wait, self.policy, self._rng) if jitter else decision.wait
        if state.deadline is not None and time.monotonic() + countdown >= state.deadline:
            raise self._timed_out(
                state, f"{decision.reason}, and that wait ends after the run's deadline"
            ) from error
        raise LLMDeferred(
            f"LLM call deferred: {decision.reason}",
            countdown=countdown,
            attempts=state.attempts,
        ) from error

    def _timed_out(self, state: _CallState, why: str) -> LLMTimedOut:
        count = len(state.attempts)
        last = state.attempts[-1].status_code if state.attempts else None
        plural = "s" if count != 1 else ""
        return LLMTimedOut(
            f"LLM call stopped at the run's deadline after {count} attempt{plural}: {why}; "
            "the run ran out of time (give it a longer time limit, or check the provider's "
            "latency and rate limit)",
            attempts=state.attempts,
            status_code=last,
        )

    def _record(
        self,
        state: _CallState,
        on_attempt: AttemptListener | None,
        started: datetime,
        t0: float,
        error: BaseException | None,
    ) -> None:
        info = classify(error) if error is not None else None
        attempt = Attempt(
            number=len(state.attempts) + 1,
            started_at=started,
            latency_ms=(time.perf_counter() - t0) * 1000,
            ok=error is None,
            error_kind=info.kind if info else None,
            status_code=info.status_code if info else None,
            error_message=str(error)[:2000] if error is not None else None,
        )
        state.attempts.append(attempt)
        if on_attempt is not None:
            on_attempt(attempt)


@dataclass
class _CallState:
    """What one call has been through so far."""

    deadline: float | None
    attempts: list[Attempt] = field(default_factory=list)
    errors: int = 0
    rate_limits: int = 0
    #: Set after each failure: the wait before the next attempt, and whether the deadline
    #: (not the attempt's own timeout) bounded the attempt that just failed.
    next_wait: float = 0.0
    cut_by_deadline: bool = False
    rate_limit_waited: float = 0.0


def _failure_message(
    error: BaseException, status: int | None, attempts: int, decision: Decision
) -> str:
    detail = getattr(error, "message", None) or str(error)
    hint = {
        401: "check the API key (OPENAI_API_KEY or the tenant's ai_models entry)",
        403: "the key lacks permission for this model or endpoint",
        404: "check the model name and OPENAI_BASE_URL",
        400: "the request was rejected as malformed; see the provider's message",
        422: "the request was rejected as malformed; see the provider's message",
    }.get(status or 0, decision.reason)
    label = f"HTTP {status}" if status else type(error).__name__
    plural = "s" if attempts != 1 else ""
    return f"LLM call failed ({label}) after {attempts} attempt{plural}: {detail} ({hint})"


def _tokens_used(response: Any, reserved: int) -> int:
    """The tokens a reply says it used (the reservation's own count when it says nothing)."""
    usage = getattr(response, "usage", None)
    total = getattr(usage, "total_tokens", None) if usage is not None else None
    return int(total) if isinstance(total, int) else reserved


def _limits(max_connections: int) -> Any:
    try:  # the openai SDK's HTTP library: httpx2 in openai 3, httpx before
        import httpx2 as httpx
    except ImportError:
        import httpx  # type: ignore[no-redef]

    return httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)


def _assistant_message(message: Any) -> dict[str, Any]:
    persisted: dict[str, Any] = {"role": "assistant", "content": message.content}
    if message.tool_calls:
        persisted["tool_calls"] = [
            {
                "id": call.id,
                "type": "function",
                "function": {"name": call.function.name, "arguments": call.function.arguments},
            }
            for call in message.tool_calls
        ]
    return persisted
