"""Readers of "a run's events after event N" never skip an event that commits out of id order.

Two real transactions write events of one workflow execution through ``records.write`` (the
one writer of ``event_logs``), as two parallel branches do: the one holding the lower id
commits last. Every reader (the client, ``GET …/events?after=``, the SSE stream and its resume
with ``Last-Event-ID``) must deliver every event exactly once. With reads of ``id > N`` the
later commit's lower id fell behind the reader's cursor and was never seen.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from models import EventLog, EventType
from models.tenant_scope import tenant_scope
from tests.bench.api_server import serve
from tests.integration.test_api_streams import _frames
from tests.support.agents import ensure_tenant
from tests.support.publisher import RecordingPublisher
from tests.support.workflows import add_workflow, approval_gate
from worker.api.app import create_api
from worker.client import AgentWorkerClient
from worker.core.settings import Settings
from worker.durable import records
from worker.security.api_keys import issue_key
from worker.security.encryption import SecretBox, generate_key
from worker.workflows.engine import advance

BOX = SecretBox([generate_key()])


@pytest.fixture
def settings(runtime_database_url: str, broker_url: str) -> Settings:
    return Settings(
        database_url=runtime_database_url,
        broker_url=broker_url,
        api_stream_poll_seconds=0.05,
        api_stream_keepalive_seconds=0.3,
    )


@pytest.fixture
def acme_key(engine: sa.Engine) -> str:
    add_workflow(engine, "gated", [approval_gate()])
    tenant_id = ensure_tenant(engine, "acme")
    with engine.begin() as connection:
        scopes = ["submit", "read"]
        return issue_key(connection, BOX, tenant_id=tenant_id, name="svc", scopes=scopes).key


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _execution(base: str | TestClient, key: str, engine: sa.Engine) -> str:
    """An execution waiting at its approval gate (so not final), with its first events."""
    post = base.post if isinstance(base, TestClient) else httpx.post
    prefix = "" if isinstance(base, TestClient) else base
    started = post(f"{prefix}/v1/executions", json={"workflow": "gated"}, headers=_auth(key))
    assert started.status_code == 201, started.text
    execution_id = str(started.json()["id"])
    advance(engine, RecordingPublisher(), uuid.UUID(execution_id))
    return execution_id


class Branch:
    """One writer's transaction, open until ``commit``."""

    def __init__(self, engine: sa.Engine, execution_id: str) -> None:
        self._connection = engine.connect()
        self._transaction = self._connection.begin()
        self._scope = records.Scope(
            ensure_tenant(engine, "acme"), workflow_execution_id=uuid.UUID(execution_id)
        )

    def take_xid(self) -> None:
        """Make this transaction a writer now (as its first UPDATE would)."""
        self._connection.execute(sa.text("SELECT pg_current_xact_id()"))

    def write(self, content: str) -> int:
        records.write(self._connection, events=[records.event(self._scope, EventType.LOG, content)])
        return int(
            self._connection.execute(
                sa.select(sa.func.max(EventLog.id)).where(EventLog.content == content)
            ).scalar_one()
        )

    def commit(self) -> None:
        self._transaction.commit()
        self._connection.close()

    def abandon(self) -> None:
        if not self._connection.closed:
            self._transaction.rollback()
            self._connection.close()


@contextmanager
def race(
    engine: sa.Engine, execution_id: str, *, second_writes_first: bool
) -> Iterator[tuple[Branch, int, int]]:
    """T1 writes (the lower id) and stays open; T2 writes (the higher id) and commits; yields
    (T1, T1's id, T2's id). ``second_writes_first``: T2 became a writer before T1 did."""
    t1, t2 = Branch(engine, execution_id), Branch(engine, execution_id)
    try:
        if second_writes_first:
            t2.take_xid()
        low = t1.write(f"t1 {execution_id}")
        high = t2.write(f"t2 {execution_id}")
        assert low < high
        t2.commit()
        yield t1, low, high
    finally:
        t1.abandon()
        t2.abandon()


@pytest.mark.parametrize("second_writes_first", [False, True], ids=["t1-older", "t2-older"])
def test_the_client_reads_every_event_once_when_a_lower_id_commits_last(
    runtime_engine: sa.Engine,
    engine: sa.Engine,
    settings: Settings,
    acme_key: str,
    second_writes_first: bool,
) -> None:
    with TestClient(create_api(settings, runtime_engine, RecordingPublisher())) as api:
        execution_id = _execution(api, acme_key, engine)
    client = AgentWorkerClient(runtime_engine, RecordingPublisher(), settings, tenant="acme")
    tenant_id = ensure_tenant(engine, "acme")

    def read(after: int) -> list[int]:
        with tenant_scope(tenant_id):
            return [event.id for event in client.events(execution_id, after=after)]

    before = read(0)
    assert before, "the execution's first events"
    with race(engine, execution_id, second_writes_first=second_writes_first) as (t1, low, high):
        seen = read(before[-1])
        if second_writes_first:
            # T2's event can be sent: T1's, still open, can only come after it.
            assert seen == [high]
        else:
            assert seen == []  # T1 is older and open: T2's event waits for it
        t1.commit()
    rest = read((before + seen)[-1])
    delivered = before + seen + rest
    assert sorted(delivered) == sorted(set(delivered)), "no event twice"
    assert {low, high} <= set(delivered), "no event missed"
    assert delivered[-2:] == ([high, low] if second_writes_first else [low, high])
    with tenant_scope(tenant_id):
        assert sorted(e.id for e in client.events(execution_id)) == sorted(delivered)


@pytest.mark.parametrize("second_writes_first", [False, True], ids=["t1-older", "t2-older"])
def test_the_events_route_reads_every_event_once_when_a_lower_id_commits_last(
    runtime_engine: sa.Engine,
    engine: sa.Engine,
    settings: Settings,
    acme_key: str,
    second_writes_first: bool,
) -> None:
    with TestClient(create_api(settings, runtime_engine, RecordingPublisher())) as api:
        execution_id = _execution(api, acme_key, engine)
        url = f"/v1/executions/{execution_id}/events"

        def read(after: int) -> dict[str, Any]:
            got = api.get(url, params={"after": after}, headers=_auth(acme_key))
            assert got.status_code == 200, got.text
            return got.json()

        before = [e["id"] for e in read(0)["events"]]
        with race(engine, execution_id, second_writes_first=second_writes_first) as (
            t1,
            low,
            high,
        ):
            page = read(before[-1])
            seen = [e["id"] for e in page["events"]]
            assert seen == ([high] if second_writes_first else [])
            assert page["held"] is (not second_writes_first)  # T2's, committed, is waiting
            t1.commit()
        page = read((before + seen)[-1])
        rest = [e["id"] for e in page["events"]]
        assert page["held"] is False
        delivered = before + seen + rest
        assert len(delivered) == len(set(delivered)) and {low, high} <= set(delivered)

        unknown = api.get(url, params={"after": 10**12}, headers=_auth(acme_key))
        assert unknown.status_code == 422, unknown.text
        assert "resume with an id this stream sent" in unknown.json()["detail"]


def _next_events(frames: Iterator[dict[str, str]], count: int, seconds: float = 5.0) -> list[int]:
    """The ids of the next ``count`` events (keep-alives skipped), within ``seconds``."""
    ids: list[int] = []
    deadline = time.monotonic() + seconds
    for frame in frames:
        assert time.monotonic() < deadline, f"only {ids} of {count} events in {seconds}s"
        if "comment" in frame:
            continue
        assert frame.get("event") != "end", f"the stream ended after {ids}"
        ids.append(int(frame["id"]))
        if len(ids) == count:
            return ids
    raise AssertionError(f"the stream closed after {ids}")


def _events_within(frames: Iterator[dict[str, str]], seconds: float) -> list[int]:
    """The ids of the events sent in the next ``seconds`` (the stream's keep-alives, every
    0.3 s, let the wait end)."""
    ids: list[int] = []
    deadline = time.monotonic() + seconds
    for frame in frames:
        if "comment" not in frame:
            ids.append(int(frame["id"]))
        if time.monotonic() >= deadline:
            return ids
    raise AssertionError(f"the stream closed after {ids}")


def _stream(base: str, execution_id: str, key: str, **headers: str) -> Any:
    return httpx.stream(
        "GET",
        f"{base}/v1/executions/{execution_id}/events/stream",
        headers={**_auth(key), **headers},
        timeout=httpx.Timeout(5.0),  # a missed event fails as a read timeout
    )


@pytest.mark.parametrize("second_writes_first", [False, True], ids=["t1-older", "t2-older"])
def test_the_stream_and_its_resume_send_every_event_once_when_a_lower_id_commits_last(
    runtime_engine: sa.Engine,
    engine: sa.Engine,
    settings: Settings,
    acme_key: str,
    second_writes_first: bool,
) -> None:
    app = create_api(settings, runtime_engine, RecordingPublisher())
    with serve(app) as base:
        execution_id = _execution(base, acme_key, engine)
        listed = httpx.get(
            f"{base}/v1/executions/{execution_id}/events", headers=_auth(acme_key)
        ).json()
        before = [e["id"] for e in listed["events"]]

        with _stream(base, execution_id, acme_key) as response:
            assert response.status_code == 200
            frames = _frames(response.iter_lines())
            assert _next_events(frames, len(before)) == before
            with race(engine, execution_id, second_writes_first=second_writes_first) as (
                t1,
                low,
                high,
            ):
                if second_writes_first:
                    # T2's event is sent at once; the client drops the stream after it.
                    assert _next_events(frames, 1) == [high]
                    t1.commit()
                else:
                    # T2's event, committed, waits while older T1 is open (a dozen polls).
                    assert _events_within(frames, 0.7) == []
                    t1.commit()
                    assert _next_events(frames, 2) == [low, high]

        if second_writes_first:  # resume after the last id received: T1's, committed since
            with _stream(base, execution_id, acme_key, **{"Last-Event-ID": str(high)}) as again:
                assert again.status_code == 200
                assert _next_events(_frames(again.iter_lines()), 1) == [low]

        cancelled = httpx.post(
            f"{base}/v1/executions/{execution_id}/cancel", headers=_auth(acme_key)
        )
        assert cancelled.status_code == 200, cancelled.text
        last = str(low if second_writes_first else high)
        with _stream(base, execution_id, acme_key, **{"Last-Event-ID": last}) as tail:
            rest = [f for f in _frames(tail.iter_lines()) if "comment" not in f]
        assert rest[-1]["event"] == "end"
        everything = [
            e["id"]
            for e in httpx.get(
                f"{base}/v1/executions/{execution_id}/events", headers=_auth(acme_key)
            ).json()["events"]
        ]
        sent = [*before, high, low] if second_writes_first else [*before, low, high]
        sent += [int(f["id"]) for f in rest[:-1]]
        assert sent == everything, "every event exactly once, in the order a read lists them"

        unknown = httpx.get(
            f"{base}/v1/executions/{execution_id}/events/stream",
            headers={**_auth(acme_key), "Last-Event-ID": str(10**12)},
        )
        assert unknown.status_code == 422, unknown.text
        assert "resume with an id this stream sent" in unknown.json()["detail"]
