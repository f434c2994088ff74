"""(api-s) Submissions/s: ``POST /v1/tasks`` over real HTTP to ``agentworker api`` (its own
process) against ``AgentWorkerClient.submit`` in this process, in the same run, on the same
database and broker, one at a time and at the bench's concurrency.

Both commit the task row and publish its id to the broker (nothing consumes it: no worker
runs). The API also authenticates the key (a transaction that records its use) and reads the
task back for its answer. Both use SQLAlchemy's default pool (5 + 10 overflow).
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import httpx
import sqlalchemy as sa

from models.db import create_sync_engine
from tests.bench.api.server import api_database_url
from tests.bench.procs import BenchError
from worker.client import AgentWorkerClient
from worker.core.settings import Settings
from worker.durable.publishing import CeleryPublisher, publishing_app


@dataclass(frozen=True)
class Rate:
    path: str  # "api" or "client"
    concurrency: int
    submissions: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.submissions / self.seconds

    def __add__(self, other: Rate) -> Rate:
        return Rate(
            self.path,
            self.concurrency,
            self.submissions + other.submissions,
            self.seconds + other.seconds,
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "concurrency": self.concurrency,
            "submissions": self.submissions,
            "seconds": round(self.seconds, 4),
            "per_second": round(self.per_second, 1),
        }


def _body(number: int) -> dict[str, Any]:
    return {"agent": "bench-api", "input": f"What time is it? (request {number})"}


def client_rate(
    database_url: str, broker_url: str, tenant: str, submissions: int, concurrency: int
) -> Rate:
    engine = create_sync_engine(api_database_url(database_url))
    client = AgentWorkerClient(
        engine,
        CeleryPublisher(publishing_app(broker_url)),
        Settings(database_url=database_url),
        tenant=tenant,
    )
    client.submit(**_body(-1))  # connect and warm up outside the window
    try:
        started = time.perf_counter()
        if concurrency == 1:
            for number in range(submissions):
                client.submit(**_body(number))
        else:
            with ThreadPoolExecutor(concurrency) as pool:
                list(pool.map(lambda n: client.submit(**_body(n)), range(submissions)))
        seconds = time.perf_counter() - started
    finally:
        client.close()
    return Rate("client", concurrency, submissions, seconds)


def api_rate(base: str, key: str, submissions: int, concurrency: int) -> Rate:
    headers = {"Authorization": f"Bearer {key}"}

    async def run() -> float:
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits) as client:
            await _post(client, -1)  # warm up outside the window
            numbers = iter(range(submissions))

            async def submitter() -> None:
                for number in numbers:
                    await _post(client, number)

            started = time.perf_counter()
            await asyncio.gather(*(submitter() for _ in range(concurrency)))
            return time.perf_counter() - started

    return Rate("api", concurrency, submissions, asyncio.run(run()))


async def _post(client: httpx.AsyncClient, number: int) -> None:
    response = await client.post("/v1/tasks", json=_body(number), timeout=60)
    if response.status_code != 201:
        raise BenchError(f"POST /v1/tasks answered {response.status_code}: {response.text}")


def submitted(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(sa.text("SELECT count(*) FROM tasks")).scalar_one())
