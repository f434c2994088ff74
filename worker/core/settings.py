"""One typed settings object, read from the environment once (``Settings.from_env``).

Standard names where they exist (``DATABASE_URL``, ``REDIS_URL``, ``OPENAI_API_KEY``,
``OPENAI_BASE_URL``, ``LOG_LEVEL``); everything else is ``AGENTWORKER_*``. Every variable is
documented in ``.env.example``.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from decimal import Decimal
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from worker.core.errors import ConfigurationError

#: USD per million tokens (input, output); override with AGENTWORKER_PRICE_TABLE (JSON).
DEFAULT_PRICES: dict[str, tuple[Decimal, Decimal]] = {
    "gpt-4o-mini": (Decimal("0.15"), Decimal("0.60")),
    "gpt-4o": (Decimal("2.50"), Decimal("10.00")),
    "gpt-4.1-mini": (Decimal("0.40"), Decimal("1.60")),
    "text-embedding-3-small": (Decimal("0.02"), Decimal("0")),
    "local-model": (Decimal("0.15"), Decimal("0.60")),
}


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    database_url: str | None = None
    #: The owner's URL, for ``agentworker migrate`` only: the tables' owner runs migrations,
    #: while DATABASE_URL logs in as the runtime role that row-level security confines.
    migration_database_url: str | None = None
    broker_url: str | None = None

    openai_api_key: str | None = None
    openai_base_url: str | None = None
    #: The local OpenAI-compatible stand-in (worker/dev/llm_server.py) is intended: it is
    #: reached at ``openai_base_url``, which must then be set (``agentworker dev`` sets both).
    local_llm: bool = False
    default_model: str = "gpt-4o-mini"
    embedding_model: str = "text-embedding-3-small"
    llm_timeout_seconds: float = Field(default=60.0, gt=0)
    llm_max_attempts: int = Field(default=5, ge=1)
    llm_backoff_initial_seconds: float = Field(default=0.5, ge=0)
    llm_backoff_max_seconds: float = Field(default=20.0, ge=0)
    #: A Retry-After longer than this is not slept in the worker: the run is re-published.
    #: Also the most a call waits in the worker on a provider's rate limit, in all.
    defer_threshold_seconds: float = Field(default=10.0, ge=0)
    #: A task still deferring on a provider's rate limit this long after its submission fails
    #: ``rate_limited`` (deferrals never use an attempt, so this is what bounds them).
    max_deferral_seconds: float = Field(default=3600.0, gt=0)
    #: A provider's known limits, for providers whose ai_models row gives none (0: not
    #: paced): requests and tokens a minute, shared by every worker process and host through
    #: the broker's Redis (per process when the broker is not Redis).
    llm_requests_per_minute: float = Field(default=0.0, ge=0)
    llm_tokens_per_minute: float = Field(default=0.0, ge=0)
    #: Calls are paced to this share of each known limit, so that calls reaching the provider
    #: a little early or late still stay under it.
    llm_rate_limit_share: float = Field(default=0.97, gt=0, le=1)
    prices: dict[str, tuple[Decimal, Decimal]] = Field(default_factory=lambda: DEFAULT_PRICES)
    encryption_keys: tuple[str, ...] = ()
    #: Modules whose ``register_tools(registry)`` adds tools next to the built-in ones.
    tool_modules: tuple[str, ...] = ()

    max_input_bytes: int = Field(default=64 * 1024, gt=0)
    #: Fair dispatch: a tenant's tasks in the broker or running at once (its window); more
    #: wait, held, and are released as these finish. A tenant's own value, if any, is
    #: ``tenants.metadata`` {"dispatch": {"max_in_flight": N}}.
    tenant_max_in_flight: int = Field(default=200, ge=1)
    #: A signed broker submission whose timestamp is further than this from the worker's
    #: clock is refused (and its nonce need not be kept longer).
    signature_window_seconds: float = Field(default=300.0, gt=0)
    #: Trusted SSO header sign-in (off unless set): the header a proxy sets to the user's
    #: email, and the shared secret it must also send in ``sso_secret_header``.
    sso_user_header: str | None = None
    sso_secret_header: str = "X-AgentWorker-Proxy-Secret"
    sso_shared_secret: str | None = None
    #: Signs the inbox's session cookies (unset: a random secret per process, so sessions end
    #: when the API restarts). The base of the links in emails and the inbox's own URLs; an
    #: https:// URL marks the session cookie Secure.
    session_secret: str | None = None
    public_url: str = "http://127.0.0.1:8000"
    #: Email (issue 13): smtp://user:pass@host:port (STARTTLS with ?starttls=1) or smtps://;
    #: unset, email rows stay PENDING and nothing is sent. ``email_from`` is the sender.
    smtp_url: str | None = None
    email_from: str = "agentworker@localhost"
    smtp_timeout_seconds: float = Field(default=10.0, gt=0)
    #: Sends of one email tried for transient SMTP errors before it is FAILED.
    email_max_attempts: int = Field(default=5, ge=1)
    #: Webhooks: one POST waits this long; a delivery is tried this many times, backing off
    #: exponentially (with jitter) from the initial to the maximum delay.
    webhook_timeout_seconds: float = Field(default=10.0, gt=0)
    webhook_max_attempts: int = Field(default=8, ge=1)
    webhook_backoff_initial_seconds: float = Field(default=5.0, ge=0)
    webhook_backoff_max_seconds: float = Field(default=3600.0, ge=0)
    #: Automation rules: an event caused by a chain of this many rule firings fires no rule
    #: again (the firing is recorded as refused).
    automation_max_depth: int = Field(default=3, ge=1)
    #: A running task's lease, renewed every third of it while its run executes: a worker
    #: that dies lets go of its tasks this long after its last renewal.
    lease_seconds: float = Field(default=30.0, gt=0)
    #: How long a worker may reuse an agent definition or provider config it has read.
    definition_cache_seconds: float = Field(default=5.0, ge=0)
    #: A task PENDING this long is checked: a probe is sent through its queue, and the task
    #: is re-published only if the probe comes back first (its message was lost, not queued).
    pending_republish_seconds: float = Field(default=15.0, gt=0)
    #: A wake-up (``workflows.advance``) this overdue is taken as lost and published again.
    lost_wake_seconds: float = Field(default=20.0, gt=0)
    #: How long one drive of an agent run, and one tool call, may take before it stops.
    run_timeout_seconds: float = Field(default=600.0, gt=0)
    tool_timeout_seconds: float = Field(default=300.0, gt=0)
    db_pool_size: int = Field(default=10, ge=1)
    db_max_overflow: int = Field(default=20, ge=0)
    #: The HTTP API's event streams (SSE): one poller per followed task or execution reads
    #: its new events this often; an idle stream sends a keep-alive comment this often.
    api_stream_poll_seconds: float = Field(default=0.5, gt=0)
    api_stream_keepalive_seconds: float = Field(default=15.0, gt=0)

    chunk_size: int = Field(default=800, gt=0)
    chunk_overlap: int = Field(default=100, ge=0)
    embedding_batch_size: int = Field(default=64, gt=0)

    #: Where each worker process keeps its liveness marks (``worker.ops.liveness``).
    liveness_dir: str = Field(default_factory=lambda: _default_liveness_dir())
    #: A mark older than this makes ``agentworker health --liveness --worker`` fail.
    liveness_max_age_seconds: float = Field(default=60.0, gt=0)

    #: Traces (worker.core.tracing): off ("none", the default), "otlp" (OTLP over HTTP, to
    #: OTEL_EXPORTER_OTLP_ENDPOINT) or "console"; the service name spans carry; and whether
    #: prompt, completion and tool text go into spans (the GenAI conventions' opt-in).
    traces_exporter: Literal["none", "otlp", "console"] = "none"
    service_name: str = "agentworker"
    trace_content: bool = False

    fault_point: str | None = None
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(name)
            return value if value not in (None, "") else None

        raw: dict[str, object] = {
            "database_url": get("DATABASE_URL"),
            "migration_database_url": get("AGENTWORKER_MIGRATION_DATABASE_URL"),
            "broker_url": get("CELERY_BROKER_URL") or get("REDIS_URL"),
            "openai_api_key": get("OPENAI_API_KEY"),
            "openai_base_url": get("OPENAI_BASE_URL"),
            "log_level": get("LOG_LEVEL") or "INFO",
            "traces_exporter": _traces_exporter(
                get("OTEL_TRACES_EXPORTER"), get("OTEL_SDK_DISABLED")
            ),
            "service_name": get("OTEL_SERVICE_NAME"),
        }
        for field in cls.model_fields:
            value = get(f"AGENTWORKER_{field.upper()}")
            if value is not None and field not in raw and field not in _NOT_PLAIN_VARIABLES:
                raw[field] = value
        if (prices := get("AGENTWORKER_PRICE_TABLE")) is not None:
            raw["prices"] = _parse_prices(prices)
        if (keys := get("AGENTWORKER_ENCRYPTION_KEYS")) is not None:
            raw["encryption_keys"] = tuple(k.strip() for k in keys.split(",") if k.strip())
        if (modules := get("AGENTWORKER_TOOL_MODULES")) is not None:
            raw["tool_modules"] = tuple(m.strip() for m in modules.split(",") if m.strip())
        raw.pop("price_table", None)
        try:
            return cls.model_validate({k: v for k, v in raw.items() if v is not None})
        except ValidationError as error:
            problems = "; ".join(
                f"AGENTWORKER_{'_'.join(map(str, e['loc'])).upper() or 'SETTINGS'}: {e['msg']}"
                for e in error.errors()
            )
            raise ConfigurationError(f"invalid settings: {problems}") from error

    @model_validator(mode="after")
    def _sso_header_needs_its_secret(self) -> Settings:
        if self.sso_user_header and not self.sso_shared_secret:
            raise ValueError(
                "sso_user_header is set but sso_shared_secret is not: without it any client "
                "could name a user; set AGENTWORKER_SSO_SHARED_SECRET to the value the proxy "
                "sends in AGENTWORKER_SSO_SECRET_HEADER"
            )
        return self

    @model_validator(mode="after")
    def _overlap_fits_in_a_chunk(self) -> Settings:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError(
                f"chunk_overlap ({self.chunk_overlap}) must be smaller than chunk_size "
                f"({self.chunk_size})"
            )
        return self

    def price_of(self, model: str) -> tuple[Decimal, Decimal]:
        """(input, output) USD per million tokens of the longest price-table entry that
        ``model`` starts with (dated snapshots such as gpt-4o-mini-2024-07-18 match their
        family); models the table does not know cost 0."""
        if model in self.prices:
            return self.prices[model]
        matches = [name for name in self.prices if model.startswith(name)]
        return self.prices[max(matches, key=len)] if matches else (Decimal(0), Decimal(0))


def _parse_prices(raw: str) -> dict[str, tuple[Decimal, Decimal]]:
    try:
        table = json.loads(raw)
        prices = {
            model: (Decimal(str(p["input"])), Decimal(str(p["output"])))
            for model, p in table.items()
        }
        if any(not price.is_finite() or price < 0 for pair in prices.values() for price in pair):
            raise ValueError("prices must be finite and not negative")
        return prices
    except (ValueError, TypeError, KeyError, AttributeError, ArithmeticError) as error:
        raise ConfigurationError(
            "AGENTWORKER_PRICE_TABLE must be JSON like "
            '{"gpt-4o-mini": {"input": 0.15, "output": 0.60}} (USD per million tokens)'
        ) from error


def _traces_exporter(value: str | None, sdk_disabled: str | None) -> str | None:
    """OTEL_TRACES_EXPORTER, as the OpenTelemetry spec spells it (a list; ``otlp``,
    ``console``, ``none``), except that unset means off: traces cost nothing unless asked for.
    OTEL_SDK_DISABLED=true turns them off whatever it says."""
    if value is None or (sdk_disabled or "").strip().lower() == "true":
        return None
    names = [name.strip().lower() for name in value.split(",") if name.strip()]
    chosen = [name for name in names if name != "none"]
    if unknown := [name for name in chosen if name not in ("otlp", "console")]:
        raise ConfigurationError(
            f"OTEL_TRACES_EXPORTER: {unknown[0]!r} is not an exporter agentworker ships; "
            "use otlp (OTLP over HTTP) or console, or none"
        )
    if len(chosen) > 1:
        raise ConfigurationError(
            f"OTEL_TRACES_EXPORTER={value!r}: one exporter at a time (otlp or console)"
        )
    return chosen[0] if chosen else "none"


#: Fields read from their own variables (standard names, or parsed above), not AGENTWORKER_<NAME>.
_NOT_PLAIN_VARIABLES = frozenset(
    {"prices", "encryption_keys", "tool_modules", "traces_exporter", "service_name"}
)


def _default_liveness_dir() -> str:
    return os.path.join(tempfile.gettempdir(), "agentworker-liveness")


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once. Tests build their own ``Settings`` instead."""
    return Settings.from_env()
