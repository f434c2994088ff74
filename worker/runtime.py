"""The resources one worker process shares across all its runs: settings, a database pool
sized to the pool's concurrency, the LLM gateway (one HTTP pool), the tool registry, the
publisher, the lease heartbeat, and, when no LLM provider is configured, the local server."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from models.db import create_sync_engine, sync_session_factory
from worker.gateway import LLMGateway
from worker.leases import LeaseHeartbeat, new_owner_id
from worker.settings import Settings, get_settings
from worker.tools import ToolRegistry

T = TypeVar("T")


class TTLCache:
    """Values by key for ``ttl`` seconds: agent definitions and provider configurations are
    read once per few seconds per process instead of once per run. 0 disables it."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._entries: dict[Hashable, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, load: Callable[[], T]) -> T:
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(key)
        if entry is not None and now - entry[0] < self.ttl:
            return entry[1]  # type: ignore[no-any-return]
        value = load()
        if self.ttl > 0:
            with self._lock:
                self._entries[key] = (now, value)
        return value


class Publisher(Protocol):
    def publish(
        self,
        name: str,
        kwargs: dict[str, Any],
        *,
        task_id: str | None = None,
        countdown: float | None = None,
        priority: int | None = None,
    ) -> str: ...


class CeleryPublisher:
    """Publishes through a Celery app. Our priority is 0 (normal) to 9 (most urgent); Redis
    serves lower numbers first, AMQP higher ones, so the number is mapped per transport."""

    def __init__(self, app: Any) -> None:
        self.app = app
        scheme = urlsplit(str(app.conf.broker_url or "redis://")).scheme
        self._inverted = scheme.startswith(("redis", "rediss", "sentinel"))

    def publish(
        self,
        name: str,
        kwargs: dict[str, Any],
        *,
        task_id: str | None = None,
        countdown: float | None = None,
        priority: int | None = None,
    ) -> str:
        options: dict[str, Any] = {}
        if priority is not None:
            options["priority"] = 9 - priority if self._inverted else priority
        result = self.app.send_task(
            name, kwargs=kwargs, task_id=task_id, countdown=countdown, **options
        )
        return str(result.id)


@dataclass
class Runtime:
    settings: Settings
    engine: sa.Engine
    sessions: sessionmaker[Session]
    gateway: LLMGateway
    tools: ToolRegistry
    publisher: Publisher
    owner: str
    definitions: TTLCache
    heartbeat: LeaseHeartbeat | None = None
    _local_llm: Any = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def local_llm_url(self) -> str:
        """The embedded OpenAI-compatible server, started on first use."""
        with self._lock:
            if self._local_llm is None:
                from worker.llm_server import LocalLLMServer

                self._local_llm = LocalLLMServer()
                self._local_llm.start()
            return str(self._local_llm.base_url)

    def close(self) -> None:
        if self.heartbeat is not None:
            self.heartbeat.stop()
        self.gateway.close()
        if self._local_llm is not None:
            self._local_llm.stop()
        self.engine.dispose()


def build_runtime(
    settings: Settings,
    publisher: Publisher,
    *,
    concurrency: int = 32,
    tools: ToolRegistry | None = None,
    heartbeat: bool = True,
) -> Runtime:
    # No transaction stays open across an LLM call, so a fraction of the concurrency suffices.
    engine = create_sync_engine(
        settings.database_url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_pre_ping=False,
        pool_recycle=1800,
    )
    if tools is None:
        from worker.tools.builtin import builtin_tools

        tools = builtin_tools()
    owner = new_owner_id()
    runtime = Runtime(
        settings=settings,
        engine=engine,
        sessions=sync_session_factory(engine),
        gateway=LLMGateway(settings, max_connections=max(64, concurrency * 2)),
        tools=tools,
        publisher=publisher,
        owner=owner,
        definitions=TTLCache(settings.definition_cache_seconds),
    )
    if heartbeat:
        runtime.heartbeat = LeaseHeartbeat(engine, owner, settings.lease_seconds)
        runtime.heartbeat.start()
    return runtime


_process_runtime: Runtime | None = None
_process_lock = threading.Lock()


def process_runtime() -> Runtime:
    """This worker process's runtime, built on first use (never at import)."""
    global _process_runtime
    with _process_lock:
        if _process_runtime is None:
            from worker import schema
            from worker.app import app

            settings = get_settings()
            concurrency = int(app.conf.worker_concurrency or 32)
            runtime = build_runtime(settings, CeleryPublisher(app), concurrency=concurrency)
            schema.assert_schema_current(runtime.engine)
            _process_runtime = runtime
        return _process_runtime


def close_process_runtime() -> None:
    global _process_runtime
    with _process_lock:
        if _process_runtime is not None:
            _process_runtime.close()
            _process_runtime = None
