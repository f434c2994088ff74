"""Every LLM call: the gateway (one openai client per provider, tenacity retries driven by a
pure policy), which provider a tenant's call goes to, and the rows an attempt leaves."""

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
            "ProviderConfig",
        ],
        "providers": [
            "NoProviderConfigured",
            "UnknownProvider",
            "environment_provider",
            "resolve_provider",
        ],
        "retry": ["Decision", "RetryPolicy", "classify", "decide"],
        "attempt_records": ["attempt_failure_log", "latency_metric"],
    },
)
