"""The resources one worker process shares across all its runs: settings, a database pool
sized to the pool's concurrency, the LLM gateway (one HTTP pool), the tool registry (built-in
tools and those of ``AGENTWORKER_TOOL_MODULES``), the publisher and the lease heartbeat."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from models.db import create_sync_engine, sync_session_factory
from worker.agents.tools.registry import ToolRegistry
from worker.core.contract import ADVANCE_WORKFLOW
from worker.core.settings import Settings
from worker.durable.leases import LeaseHeartbeat, new_owner_id
from worker.durable.publishing import HandledHere, Publisher
from worker.llm.gateway import LLMGateway

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
    #: Moves a workflow execution on in this process (the worker app sets it to the engine's
    #: ``advance``); None: a ``workflows.advance`` message is published instead.
    advance_workflow: Callable[[uuid.UUID], None] | None = None
    #: Tenants whose tasks were held at their last finish in this process: their next finish
    #: releases a held task in its own transaction (worker.agents.endings.succeed). A hint
    #: that only picks between two correct paths.
    tenants_holding: set[uuid.UUID] = field(default_factory=set)

    def wake_workflow(self, execution_id: uuid.UUID) -> None:
        """A step's task of ``execution_id`` ended (committed): move the execution on, here
        when this process can (one message fewer per step), else by a message. Either way the
        execution's row lock makes it move once; a crash before it is the reaper's lost wake."""
        advance_here = self.advance_workflow
        publisher: Publisher = (
            self.publisher
            if advance_here is None
            else HandledHere(
                self.publisher,
                {ADVANCE_WORKFLOW: lambda kwargs: advance_here(uuid.UUID(kwargs["execution_id"]))},
            )
        )
        publisher.publish(ADVANCE_WORKFLOW, {"execution_id": str(execution_id)})

    def close(self) -> None:
        if self.heartbeat is not None:
            self.heartbeat.stop()
        self.gateway.close()
        self.engine.dispose()


def build_runtime(
    settings: Settings,
    publisher: Publisher,
    *,
    concurrency: int = 32,
    tools: ToolRegistry | None = None,
    heartbeat: bool = True,
    on_heartbeat: Callable[[], None] | None = None,
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
        from worker.agents.tools.builtin import builtin_tools
        from worker.agents.tools.modules import register_tool_modules

        tools = builtin_tools()
        register_tool_modules(tools, settings.tool_modules)
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
        runtime.heartbeat = LeaseHeartbeat(
            engine, owner, settings.lease_seconds, on_beat=on_heartbeat
        )
        runtime.heartbeat.start()
    return runtime
