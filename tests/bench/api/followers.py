"""(api-f) One task's event stream to many followers: ``followers`` SSE clients (httpx, one
asyncio loop in this process) follow one task on ``agentworker api`` while the events are
appended in batches (as a worker writes them) and the task then finishes.

events/s delivered = followers x events / (first append -> the last follower's ``end``).
Meanwhile ``pg_stat_activity`` is sampled for the API's connections (its application_name):
all of them, and those running a statement.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import sqlalchemy as sa

from models import EventLog, EventType, Task
from tests.bench.api.server import APPLICATION
from tests.bench.procs import BenchError

SAMPLE_SECONDS = 0.02


@dataclass(frozen=True)
class Fanout:
    followers: int
    events: int
    batch: int
    seconds: float  # first append -> the last follower's end
    write_seconds: float  # first append -> the task final
    #: The API's connections while the followers connected (each request authenticates)...
    connect_connections_max: int
    #: ... and while they were all open and the events flowed: all, and running a statement.
    connections_max: int
    active_max: int
    samples: int
    poll_seconds: float

    @property
    def delivered(self) -> int:
        return self.followers * self.events

    @property
    def per_second(self) -> float:
        return self.delivered / self.seconds

    def as_json(self) -> dict[str, Any]:
        return {
            "followers": self.followers,
            "events": self.events,
            "batch": self.batch,
            "delivered": self.delivered,
            "seconds": round(self.seconds, 4),
            "write_seconds": round(self.write_seconds, 4),
            "events_per_second_delivered": round(self.per_second, 1),
            "api_connections_max_while_connecting": self.connect_connections_max,
            "api_connections_max": self.connections_max,
            "api_connections_active_max": self.active_max,
            "samples": self.samples,
            "poll_seconds": self.poll_seconds,
        }


@dataclass
class _Sampler:
    engine: sa.Engine
    stop: threading.Event = field(default_factory=threading.Event)
    counts: list[tuple[float, int, int]] = field(default_factory=list)

    def run(self) -> None:
        query = sa.text(
            "SELECT count(*), count(*) FILTER (WHERE state = 'active') FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = :name"
        )
        with self.engine.connect() as connection:
            while not self.stop.is_set():
                row = connection.execute(query, {"name": APPLICATION}).one()
                connection.commit()  # a fresh snapshot of the statistics each time
                self.counts.append((time.perf_counter(), int(row[0]), int(row[1])))
                time.sleep(SAMPLE_SECONDS)


def _append(engine: sa.Engine, tenant_id: uuid.UUID, task_id: uuid.UUID, texts: list[str]) -> None:
    with engine.begin() as connection:
        connection.execute(
            sa.insert(EventLog),
            [
                {
                    "tenant_id": tenant_id,
                    "task_id": task_id,
                    "event_type": EventType.LOG,
                    "content": t,
                }
                for t in texts
            ],
        )


def _finish(engine: sa.Engine, task_id: uuid.UUID) -> None:
    with engine.begin() as connection:
        connection.execute(
            sa.update(Task)
            .where(Task.id == task_id)
            .values(status="SUCCEEDED", finished_at=sa.func.now())
        )


def run_fanout(
    owner: sa.Engine,
    base: str,
    key: str,
    tenant_id: uuid.UUID,
    task_id: uuid.UUID,
    *,
    followers: int,
    events: int,
    batch: int,
    poll_seconds: float,
) -> Fanout:
    url = f"{base}/v1/tasks/{task_id}/events/stream"
    headers = {"Authorization": f"Bearer {key}"}
    _append(owner, tenant_id, task_id, ["ready"])  # every follower has it: all are subscribed
    ended: list[float] = []

    async def follow(client: httpx.AsyncClient, ready: asyncio.Event, seen: list[int]) -> int:
        count, last = 0, 0
        async with client.stream("GET", url, headers=headers) as response:
            if response.status_code != 200:
                raise BenchError(f"the stream answered {response.status_code}")
            async for line in response.aiter_lines():
                if line.startswith("id: "):
                    event_id = int(line[4:])
                    if event_id <= last:
                        raise BenchError(f"event {event_id} after {last}: out of order")
                    last = event_id
                    count += 1
                    if count == 1:
                        seen.append(1)
                        if len(seen) == followers:
                            ready.set()
                elif line == "event: end":
                    ended.append(time.perf_counter())
        return count - 1  # not the "ready" event

    async def run() -> tuple[list[int], float, float]:
        limits = httpx.Limits(max_connections=followers + 10)
        timeout = httpx.Timeout(120.0)
        async with httpx.AsyncClient(limits=limits, timeout=timeout) as client:
            ready, seen = asyncio.Event(), list[int]()
            tasks = [asyncio.create_task(follow(client, ready, seen)) for _ in range(followers)]
            await asyncio.wait_for(ready.wait(), 60)
            started = time.perf_counter()
            for first in range(0, events, batch):
                texts = [f"event {n}" for n in range(first, min(events, first + batch))]
                await asyncio.to_thread(_append, owner, tenant_id, task_id, texts)
            await asyncio.to_thread(_finish, owner, task_id)
            written = time.perf_counter() - started
            counts = await asyncio.gather(*tasks)
            return counts, started, written

    sampler = _Sampler(owner)
    thread = threading.Thread(target=sampler.run, name="pg_stat_activity sampler", daemon=True)
    thread.start()
    try:
        counts, started, written = asyncio.run(run())
    finally:
        sampler.stop.set()
        thread.join(timeout=10)
    if any(count != events for count in counts):
        raise BenchError(f"a follower missed events: got {sorted(set(counts))}, sent {events}")
    before = [sample for sample in sampler.counts if sample[0] < started]
    during = [sample for sample in sampler.counts if sample[0] >= started]
    if not before or not during:
        raise BenchError("pg_stat_activity was not sampled before and during the stream")
    return Fanout(
        followers=followers,
        events=events,
        batch=batch,
        seconds=max(ended) - started,
        write_seconds=written,
        connect_connections_max=max(c for _, c, _ in before),
        connections_max=max(c for _, c, _ in during),
        active_max=max(a for _, _, a in during),
        samples=len(during),
        poll_seconds=poll_seconds,
    )
