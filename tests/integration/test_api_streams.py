"""``GET /v1/tasks/{id}/events/stream`` over real HTTP (uvicorn on a free port, httpx
streaming clients), against the real PostgreSQL through the confined runtime role; events are
appended to the task with the owner's engine, as a worker would write them."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from models import EventLog, EventType, Task
from models.db import create_sync_engine
from tests.bench.api_server import serve
from tests.support.agents import add_agent, ensure_tenant
from tests.support.publisher import RecordingPublisher
from worker.api import streams
from worker.api.app import create_api
from worker.core.settings import Settings
from worker.security.api_keys import issue_key
from worker.security.encryption import SecretBox, generate_key

BOX = SecretBox([generate_key()])
PROBLEM = "application/problem+json"
KEEPALIVE_SECONDS = 0.3
APPLICATION = "agentworker-api-under-test"
POOL_SIZE, MAX_OVERFLOW = 5, 10
FOLLOWERS = 100


@dataclass
class Server:
    base: str
    app: FastAPI
    engine: sa.Engine  # the API's own, confined, engine


def _settings(runtime_database_url: str, broker_url: str) -> Settings:
    return Settings(
        database_url=runtime_database_url,
        broker_url=broker_url,
        api_stream_poll_seconds=0.05,
        api_stream_keepalive_seconds=KEEPALIVE_SECONDS,
    )


@pytest.fixture
def api_engine(runtime_database_url: str) -> Iterator[sa.Engine]:
    engine = create_sync_engine(
        runtime_database_url,
        pool_size=POOL_SIZE,
        max_overflow=MAX_OVERFLOW,
        connect_args={"application_name": APPLICATION},
    )
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def server(runtime_database_url: str, broker_url: str, api_engine: sa.Engine) -> Iterator[Server]:
    app = create_api(_settings(runtime_database_url, broker_url), api_engine, RecordingPublisher())
    with serve(app) as base:
        yield Server(base, app, api_engine)


def _key(engine: sa.Engine, tenant: str = "acme", scopes: tuple[str, ...] = ("submit", "read")):
    tenant_id = ensure_tenant(engine, tenant)
    with engine.begin() as connection:
        return issue_key(connection, BOX, tenant_id=tenant_id, name="svc", scopes=list(scopes)).key


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def acme_key(engine: sa.Engine) -> str:
    add_agent(engine, "assistant", tenant="acme")
    return _key(engine, "acme")


def _task(base: str, key: str) -> str:
    created = httpx.post(
        f"{base}/v1/tasks", json={"agent": "assistant", "input": "hi"}, headers=_auth(key)
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def _append(engine: sa.Engine, task_id: str, *texts: str) -> list[int]:
    tenant_id = ensure_tenant(engine, "acme")
    with engine.begin() as connection:
        return [
            connection.execute(
                sa.insert(EventLog)
                .values(tenant_id=tenant_id, task_id=task_id, event_type=EventType.LOG, content=t)
                .returning(EventLog.id)
            ).scalar_one()
            for t in texts
        ]


def _finish(engine: sa.Engine, task_id: str, status: str = "SUCCEEDED") -> None:
    with engine.begin() as connection:
        connection.execute(
            sa.update(Task)
            .where(Task.id == task_id)
            .values(status=status, finished_at=sa.func.now())
        )


def _frames(lines: Iterator[str]) -> Iterator[dict[str, str]]:
    """Server-Sent Events frames (``{"comment": …}`` for a comment line)."""
    frame: dict[str, str] = {}
    for line in lines:
        if line == "":
            if frame:
                yield frame
            frame = {}
        elif line.startswith(":"):
            yield {"comment": line[1:].strip()}
        else:
            name, _, value = line.partition(":")
            frame[name] = value[1:] if value.startswith(" ") else value
    if frame:
        yield frame


def _stream(base: str, task_id: str, key: str, **headers: str) -> Any:
    return httpx.stream(
        "GET",
        f"{base}/v1/tasks/{task_id}/events/stream",
        headers={**_auth(key), **headers},
        timeout=httpx.Timeout(10.0),
    )


def _read_to_end(base: str, task_id: str, key: str, **options: Any) -> list[dict[str, str]]:
    params = options.pop("params", None)
    with httpx.stream(
        "GET",
        f"{base}/v1/tasks/{task_id}/events/stream",
        params=params,
        headers={**_auth(key), **options},
        timeout=httpx.Timeout(10.0),
    ) as response:
        assert response.status_code == 200, response.read()
        return [f for f in _frames(response.iter_lines()) if "comment" not in f]


def _ids(frames: list[dict[str, str]]) -> list[int]:
    return [int(f["id"]) for f in frames if f.get("event") != "end"]


def test_a_stream_sends_every_event_in_order_and_ends_with_the_task(
    server: Server, engine: sa.Engine, acme_key: str
) -> None:
    task_id = _task(server.base, acme_key)
    before = _append(engine, task_id, "one", "two")
    written: list[int] = []

    def worker() -> None:  # writes while the stream is open, then finishes the task
        time.sleep(0.3)
        for text in ("three", "four", "five"):
            written.extend(_append(engine, task_id, text))
            time.sleep(0.1)
        _finish(engine, task_id)

    with _stream(server.base, task_id, acme_key) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        writer = threading.Thread(target=worker)
        writer.start()
        frames = [f for f in _frames(response.iter_lines()) if "comment" not in f]
        writer.join()

    assert _ids(frames) == before + written
    events = [f for f in frames if f.get("event") != "end"]
    assert {f["event"] for f in events} == {"LOG"}
    assert [json.loads(f["data"])["content"] for f in events] == [
        "one",
        "two",
        "three",
        "four",
        "five",
    ]
    assert json.loads(events[0]["data"])["id"] == before[0]
    assert frames[-1]["event"] == "end" and "id" not in frames[-1]
    assert json.loads(frames[-1]["data"]) == {"status": "SUCCEEDED"}


def test_a_dropped_stream_resumes_after_last_event_id_with_no_gap_and_no_duplicate(
    server: Server, engine: sa.Engine, acme_key: str
) -> None:
    task_id = _task(server.base, acme_key)
    first = _append(engine, task_id, "a", "b", "c")

    with _stream(server.base, task_id, acme_key) as response:
        received = []
        for frame in _frames(response.iter_lines()):
            if "id" in frame:
                received.append(int(frame["id"]))
            if len(received) == 2:
                break  # the connection drops here
    assert received == first[:2]

    later = _append(engine, task_id, "d", "e")
    _finish(engine, task_id)
    resumed = _read_to_end(server.base, task_id, acme_key, **{"Last-Event-ID": str(received[-1])})

    assert received + _ids(resumed) == first + later
    assert resumed[-1]["event"] == "end"
    # ?after= is the fallback when there is no header, and the header wins over it.
    assert _ids(_read_to_end(server.base, task_id, acme_key, params={"after": later[0]})) == [
        later[1]
    ]
    both = _read_to_end(
        server.base,
        task_id,
        acme_key,
        params={"after": later[0]},
        **{"Last-Event-ID": str(first[0])},
    )
    assert _ids(both) == first[1:] + later


def _next_ids(frames: Iterator[dict[str, str]], count: int, seconds: float = 10.0) -> list[int]:
    """The next ``count`` event ids, failing (not hanging on keep-alives) after ``seconds``."""
    deadline, ids = time.monotonic() + seconds, []
    for frame in frames:
        assert time.monotonic() < deadline, f"only {ids} of {count} events in {seconds:g}s"
        if "id" in frame:
            ids.append(int(frame["id"]))
            if len(ids) == count:
                return ids
    raise AssertionError(f"the stream ended after {ids}")


def test_a_follower_that_joins_behind_the_others_gets_the_events_they_already_had(
    server: Server, engine: sa.Engine, acme_key: str
) -> None:
    """The feed drops what every follower has been sent; a later follower from an earlier id
    makes it read from there again."""
    task_id = _task(server.base, acme_key)
    first = _append(engine, task_id, "a", "b", "c")

    with (
        _stream(server.base, task_id, acme_key) as ahead,
        _stream(server.base, task_id, acme_key) as behind_head,
    ):
        ahead_frames = _frames(ahead.iter_lines())
        assert _next_ids(ahead_frames, 3) == first
        behind_frames = _frames(behind_head.iter_lines())
        assert _next_ids(behind_frames, 3) == first
        with _stream(server.base, task_id, acme_key, **{"Last-Event-ID": str(first[0])}) as late:
            late_frames = _frames(late.iter_lines())
            assert _next_ids(late_frames, 2) == first[1:]
            later = _append(engine, task_id, "d")
            _finish(engine, task_id)
            rest = [
                _ids([f for f in frames if "comment" not in f])
                for frames in (list(ahead_frames), list(behind_frames), list(late_frames))
            ]
    assert rest == [later, later, later]


def test_an_idle_stream_sends_keep_alives(server: Server, engine: sa.Engine, acme_key: str) -> None:
    task_id = _task(server.base, acme_key)

    comments: list[float] = []
    started = time.monotonic()
    with _stream(server.base, task_id, acme_key) as response:
        for frame in _frames(response.iter_lines()):
            assert frame == {"comment": "keep-alive"}
            comments.append(time.monotonic() - started)
            if len(comments) == 3:
                break

    assert comments[0] >= KEEPALIVE_SECONDS * 0.8
    assert comments[2] - comments[0] >= KEEPALIVE_SECONDS * 1.6
    deadline = time.monotonic() + 5  # the client went away: its feed and poller stop
    while server.app.state.event_hub.feeds:
        assert time.monotonic() < deadline, "the feed outlived its only follower"
        time.sleep(0.05)


def test_a_long_backlog_is_read_in_several_reads_and_ends_only_after_the_last(
    server: Server, engine: sa.Engine, acme_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(streams, "READ_LIMIT", 3)
    task_id = _task(server.base, acme_key)
    ids = _append(engine, task_id, *(f"event {n}" for n in range(10)))
    _finish(engine, task_id)

    frames = _read_to_end(server.base, task_id, acme_key)

    assert _ids(frames) == ids
    assert json.loads(frames[-1]["data"]) == {"status": "SUCCEEDED"}


def test_a_stream_of_a_final_task_sends_what_is_left_and_closes(
    server: Server, engine: sa.Engine, acme_key: str
) -> None:
    task_id = _task(server.base, acme_key)
    ids = _append(engine, task_id, "x", "y")
    _finish(engine, task_id, "FAILED")

    frames = _read_to_end(server.base, task_id, acme_key)
    assert _ids(frames) == ids
    assert json.loads(frames[-1]["data"]) == {"status": "FAILED"}
    assert (
        _ids(_read_to_end(server.base, task_id, acme_key, **{"Last-Event-ID": str(ids[1])})) == []
    )


def _api_connections(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(
                sa.text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND application_name = :name"
                ),
                {"name": APPLICATION},
            ).scalar_one()
        )


def test_a_hundred_followers_get_every_event_over_a_bounded_number_of_connections(
    server: Server, engine: sa.Engine, acme_key: str
) -> None:
    task_id = _task(server.base, acme_key)
    hub_key = ("task", uuid.UUID(task_id))
    samples: list[tuple[int, int]] = []  # (checked out of the API's pool, its open connections)

    async def follow(client: httpx.AsyncClient) -> list[dict[str, str]]:
        url = f"{server.base}/v1/tasks/{task_id}/events/stream"
        async with client.stream("GET", url, headers=_auth(acme_key)) as response:
            assert response.status_code == 200
            lines = [line async for line in response.aiter_lines()]
        return [f for f in _frames(iter(lines)) if "comment" not in f]

    async def main() -> tuple[list[list[dict[str, str]]], list[int]]:
        limits = httpx.Limits(max_connections=FOLLOWERS + 10)
        async with httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(30.0)) as client:
            followers = [asyncio.create_task(follow(client)) for _ in range(FOLLOWERS)]
            deadline = time.monotonic() + 30
            while _hub_followers(server, hub_key) < FOLLOWERS:
                assert time.monotonic() < deadline, "the followers did not all connect in 30s"
                await asyncio.sleep(0.05)
            written: list[int] = []
            for batch in range(10):
                written += await asyncio.to_thread(_append, engine, task_id, f"e{batch}a", "b")
                samples.append(await asyncio.to_thread(_sample, server.engine, engine))
                await asyncio.sleep(0.05)
            for _ in range(5):  # the followers are all open and idle now
                samples.append(await asyncio.to_thread(_sample, server.engine, engine))
                await asyncio.sleep(0.05)
            await asyncio.to_thread(_finish, engine, task_id)
            return await asyncio.gather(*followers), written

    results, written = asyncio.run(main())

    assert len(results) == FOLLOWERS
    for frames in results:
        assert _ids(frames) == written
        assert json.loads(frames[-1]["data"]) == {"status": "SUCCEEDED"}
    checked_out = max(sample[0] for sample in samples)
    opened = max(sample[1] for sample in samples)
    assert checked_out <= 2, samples
    assert opened <= POOL_SIZE, samples  # the pool's idle connections, not one per follower
    assert server.app.state.event_hub.feeds == 0  # the feed stopped with the task


def _hub_followers(server: Server, key: Any) -> int:
    hub = getattr(server.app.state, "event_hub", None)
    return hub.followers_of(key) if hub else 0


def _sample(api_engine: sa.Engine, owner: sa.Engine) -> tuple[int, int]:
    return api_engine.pool.checkedout(), _api_connections(owner)  # type: ignore[attr-defined]


# --- auth: the same rules as the other routes ------------------------------------------------


@pytest.fixture
def api(runtime_database_url: str, broker_url: str, api_engine: sa.Engine) -> Iterator[TestClient]:
    app = create_api(_settings(runtime_database_url, broker_url), api_engine, RecordingPublisher())
    with TestClient(app) as client:
        yield client


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status and body["type"] and body["title"] and body["detail"]
    return body


def test_a_stream_needs_a_key_the_read_scope_and_the_keys_tenant(
    api: TestClient, engine: sa.Engine, acme_key: str
) -> None:
    created = api.post(
        "/v1/tasks", json={"agent": "assistant", "input": "hi"}, headers=_auth(acme_key)
    )
    url = f"/v1/tasks/{created.json()['id']}/events/stream"

    assert "Authorization: Bearer" in _problem(api.get(url), 401)["detail"]
    submit_only = _key(engine, "acme", scopes=("submit",))
    assert "'read' scope" in _problem(api.get(url, headers=_auth(submit_only)), 403)["detail"]
    _problem(api.get(url, headers=_auth(_key(engine, "globex"))), 404)
    _problem(api.get(f"/v1/tasks/{uuid.uuid4()}/events/stream", headers=_auth(acme_key)), 404)
    bad = _problem(api.get(url, headers={**_auth(acme_key), "Last-Event-ID": "x"}), 422)
    assert "Last-Event-ID" in bad["detail"]
