"""The soak's own services: an embedded PostgreSQL and Redis it may restart, the local LLM
server failing one call in ``llm_failure_every``, the sink, a client, and the environment its
workers get. Nothing else on the machine is touched."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from models import db
from tests.support.sink import Sink
from tests.support.sink_tools import MODULE as SINK_TOOLS
from tests.support.sink_tools import SINK_URL_VARIABLE
from tests.support.stack import ROOT
from worker.app import create_app
from worker.client import AgentWorkerClient
from worker.core.database_roles import ensure_runtime_login
from worker.core.settings import Settings
from worker.dev.llm_server import LocalLLMServer
from worker.dev.services import EmbeddedPostgres, EmbeddedRedis, temporary_directory
from worker.durable import schema
from worker.durable.publishing import CeleryPublisher


@dataclass
class SoakServices:
    engine: sa.Engine
    client: AgentWorkerClient
    app: Any
    postgres: EmbeddedPostgres
    redis: EmbeddedRedis
    llm: LocalLLMServer
    sink: Sink
    worker_env: dict[str, str]
    tmp: Path


@contextlib.contextmanager
def soak_services(keep: Path | None, llm_failure_every: int) -> Iterator[SoakServices]:
    with contextlib.ExitStack() as exits:
        if keep is not None:
            keep.mkdir(parents=True, exist_ok=True)
            tmp = keep
        else:
            tmp = exits.enter_context(temporary_directory("agentworker-chaos-"))
        postgres = EmbeddedPostgres(tmp / "pgdata", ephemeral=True)
        exits.callback(postgres.stop)
        server_url = postgres.start()
        database_url = _create_database(server_url)
        redis = EmbeddedRedis(tmp / "redis", persistent=True)
        exits.callback(redis.stop)
        broker_url = redis.start()
        llm = LocalLLMServer(fault_status=500, fault_every=llm_failure_every)
        llm.start()
        exits.callback(llm.stop)
        sink = exits.enter_context(Sink())
        engine = db.create_sync_engine(database_url, pool_size=5)
        exits.callback(engine.dispose)
        app = create_app(broker_url)
        client = AgentWorkerClient(
            engine, CeleryPublisher(app), Settings(database_url=database_url)
        )
        yield SoakServices(
            engine,
            client,
            app,
            postgres,
            redis,
            llm,
            sink,
            _worker_env(ensure_runtime_login(database_url), broker_url, llm.base_url, sink.url),
            tmp,
        )


def _create_database(server_url: str) -> str:
    name = "agentworker_chaos"
    engine = db.create_sync_engine(server_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    url = db.database_url(server_url).set(database=name).render_as_string(hide_password=False)
    schema.upgrade(url)
    return url


def _worker_env(database_url: str, broker_url: str, llm_url: str, sink_url: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AGENTWORKER_", "OPENAI_", "CELERY_"))
        and key not in ("DATABASE_URL", "REDIS_URL")
    }
    env.update(
        DATABASE_URL=database_url,
        CELERY_BROKER_URL=broker_url,
        OPENAI_BASE_URL=llm_url,
        AGENTWORKER_LOCAL_LLM="1",  # the local server stands in for a provider, on purpose
        AGENTWORKER_TOOL_MODULES=SINK_TOOLS,
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        PYTHONUNBUFFERED="1",
        # Recovery within seconds: a dead worker's leases lapse after 10 s, the reaper looks
        # every 2 s, a wake-up 5 s overdue or a task queued 15 s without a worker is lost.
        AGENTWORKER_LEASE_SECONDS="10",
        AGENTWORKER_REAPER_INTERVAL_SECONDS="2",
        AGENTWORKER_LOST_WAKE_SECONDS="5",
        AGENTWORKER_PENDING_REPUBLISH_SECONDS="15",
        AGENTWORKER_APPROVAL_EXPIRY_INTERVAL_SECONDS="1",
        AGENTWORKER_LLM_BACKOFF_INITIAL_SECONDS="0.05",
        AGENTWORKER_LLM_BACKOFF_MAX_SECONDS="0.5",
    )
    env[SINK_URL_VARIABLE] = sink_url
    return env
