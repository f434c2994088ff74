"""Every LLM call: the gateway (one openai client per provider, retries driven by a pure
policy, attempts bounded as a whole and by the run's deadline), the per-provider limiter that
paces requests and tokens and holds calls back after a 429 (shared through the broker's
Redis), which provider a tenant's call goes to, and the rows an attempt leaves."""

from worker.core.exports import exports

__all__, __getattr__, __dir__ = exports(
    __name__,
    {
        "gateway": [
            "Attempt",
            "ChatResult",
            "EmbeddingResult",
            "LLMCallFailed",
            "LLMDeferred",
            "LLMGateway",
            "LLMTimedOut",
            "ProviderConfig",
        ],
        "limiter": [
            "LIMITERS",
            "Limiters",
            "ProviderLimiter",
            "RateLimiter",
            "Turn",
            "WaitTooLong",
        ],
        "shared_limiter": ["SharedLimiters", "SharedProviderLimiter", "limiters_for"],
        "providers": [
            "NoProviderConfigured",
            "UnknownProvider",
            "environment_provider",
            "resolve_provider",
        ],
        "retry": ["Decision", "RetryPolicy", "classify", "decide", "jittered"],
        "attempt_records": ["attempt_failure_log", "latency_metric"],
    },
)
