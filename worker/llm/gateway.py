"""The LLM gateway: every LLM call goes through here (DESIGN §6).

One ``openai`` client per provider configuration, all sharing one HTTP connection pool per
process; the SDK's own retries are off (``max_retries=0``) so that tenacity, driven by the pure
policy in ``worker.llm.retry``, is the one retry policy. Each attempt is reported to ``on_attempt``
(the caller persists latency and failures); token usage and cost are counted per call.
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
from worker.llm.retry import Decision, RetryPolicy, classify, decide

_MILLION = Decimal(1_000_000)


@dataclass(frozen=True)
class ProviderConfig:
    """Where to send a call. ``name`` says where the config came from (for events and logs)."""

    name: str
    api_key: str = field(repr=False)
    base_url: str | None = None

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


class LLMDeferred(AgentWorkerError):
    """The provider asked for a wait too long to sleep through; re-publish after ``countdown``."""

    code = "llm_deferred"
    retryable = True

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
                        limits=_limits(self._max_connections)
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
    ) -> ChatResult:
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
            lambda: client.chat.completions.create(**options), on_attempt
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
    ) -> EmbeddingResult:
        options: dict[str, Any] = {"model": model, "input": list(texts)}
        if dimensions is not None:
            options["dimensions"] = dimensions
        client = self.client(provider)
        response, attempts = self._with_retries(
            lambda: client.embeddings.create(**options), on_attempt
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
        self, call: Callable[[], Any], on_attempt: AttemptListener | None
    ) -> tuple[Any, tuple[Attempt, ...]]:
        attempts: list[Attempt] = []
        decisions: dict[int, Decision] = {}

        def record(number: int, started: datetime, t0: float, error: BaseException | None):
            info = classify(error) if error is not None else None
            attempt = Attempt(
                number=number,
                started_at=started,
                latency_ms=(time.perf_counter() - t0) * 1000,
                ok=error is None,
                error_kind=info.kind if info else None,
                status_code=info.status_code if info else None,
                error_message=str(error)[:2000] if error is not None else None,
            )
            attempts.append(attempt)
            if on_attempt is not None:
                on_attempt(attempt)

        def attempt_once() -> Any:
            number = len(attempts) + 1
            started, t0 = datetime.now(UTC), time.perf_counter()
            try:
                result = call()
            except Exception as error:
                record(number, started, t0, error)
                decisions[number] = decide(error, number, self.policy, self._rng)
                raise
            record(number, started, t0, None)
            return result

        retrying = tenacity.Retrying(
            retry=lambda state: decisions.get(state.attempt_number, _FAIL).action == "retry",
            wait=lambda state: decisions[state.attempt_number].wait,
            stop=tenacity.stop_after_attempt(self.policy.max_attempts),
            sleep=self._sleep,
            reraise=True,
        )
        try:
            return retrying(attempt_once), tuple(attempts)
        except Exception as error:
            decision = decisions.get(len(attempts), _FAIL)
            if decision.action == "defer":
                raise LLMDeferred(
                    f"LLM call deferred: {decision.reason}",
                    countdown=decision.wait,
                    attempts=attempts,
                ) from error
            info = classify(error)
            raise LLMCallFailed(
                _failure_message(error, info.status_code, len(attempts), decision),
                attempts=attempts,
                status_code=info.status_code,
            ) from error


_FAIL = Decision("fail", 0.0, "not retryable")


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


def _limits(max_connections: int) -> Any:
    try:  # the openai SDK's HTTP library: httpx2 in openai 3, httpx before
        import httpx2 as httpx
    except ImportError:
        import httpx

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
