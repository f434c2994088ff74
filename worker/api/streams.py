"""Server-Sent Events for ``…/events/stream``: a task's or a workflow execution's events as
they are written, through the process's ``EventHub`` (one poller per target, however many
follow it).

Each event is sent as ``id: <event id>``, ``event: <event type>``, ``data: <the event as JSON>``,
in commit-safe order (``worker.durable.event_order``): ids are unique but not always increasing,
and an event is sent once every transaction older than its writer has ended. A client that
reconnects with ``Last-Event-ID`` (or ``?after=``) set to the last id it received gets exactly
the events after that one, none missed and none twice; an id that is not an event of the run
is refused (422) before the stream starts. Once the target is final and every event up to it
has been sent, an ``end`` event (``data: {"status": …}``, no id) is sent and the stream closes.
An idle stream sends the comment ``: keep-alive`` every ``api_stream_keepalive_seconds``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import uuid
from collections.abc import AsyncIterator, Callable, Hashable
from typing import Annotated, Any, Protocol

from fastapi import Header, Query, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import StreamingResponse

from models.tenant_scope import tenant_scope
from worker.api.event_hub import Batch, Event, EventHub, Fetch
from worker.api.problems import invalid
from worker.client import AgentWorkerClient, EventPage, EventView, TaskNotFound
from worker.core.errors import AgentWorkerError
from worker.durable.event_order import Cursor
from worker.security.principals import Principal

MEDIA_TYPE = "text/event-stream"
KEEP_ALIVE = ": keep-alive\n\n"

#: ``?after=N`` of a run's ``…/events``.
AfterEvent = Annotated[
    int,
    Query(
        ge=0,
        description="Return the events after this one (an id a read returned; 0: from the "
        "start), in commit-safe order.",
    ),
]
#: ``?after=N`` of a run's ``…/events/stream``.
StreamAfter = Annotated[
    int | None,
    Query(ge=0, description="Start after this event (an id the stream sent; Last-Event-ID wins)."),
]
LastEventId = Annotated[str | None, Header(alias="Last-Event-ID")]


def events_body(page: EventPage) -> dict[str, Any]:
    """A ``…/events`` answer. ``held``: committed events wait for an older transaction to
    end, so read again, even when the run is final."""
    events = [dataclasses.asdict(event) for event in page.events]
    return jsonable_encoder({"events": events, "held": page.held})


class _Run(Protocol):
    @property
    def id(self) -> uuid.UUID: ...


async def follow(
    request: Request,
    principal: Principal,
    client: AgentWorkerClient,
    kind: str,
    read_run: Callable[[], _Run],
    feed: Callable[[AgentWorkerClient, uuid.UUID, uuid.UUID], Fetch],
    position: int,
    refused: Callable[[AgentWorkerError], Exception],
) -> StreamingResponse:
    """A ``…/events/stream`` answer: read the run and the cursor of the client's event in
    the key's tenant scope (an unknown run or event is refused before the stream starts),
    then stream its events after that cursor."""

    def find() -> tuple[_Run, Cursor]:
        with tenant_scope(principal.tenant_id, user_id=principal.user_id):
            run = read_run()
            return run, client.event_cursor(run.id, position)

    try:
        run, start = await asyncio.to_thread(find)
    except AgentWorkerError as error:
        raise refused(error) from None
    assert principal.tenant_id is not None
    fetch = feed(client, principal.tenant_id, run.id)
    return event_stream(request, (kind, run.id), fetch, start)


#: The OpenAPI description of a stream route's answer.
RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Server-Sent Events: `id` (the event id), `event` (its type), `data` "
        "(the event as JSON), in commit-safe order (ids are unique but not always increasing); "
        "then `event: end` with the final status, and the stream closes. Resume with the "
        "Last-Event-ID header set to the last id you received.",
        "content": {MEDIA_TYPE: {"schema": {"type": "string"}}},
    }
}


def hub_of(request: Request) -> EventHub:
    """The API process's hub, made on first use (one per application)."""
    state = request.app.state
    hub = getattr(state, "event_hub", None)
    if hub is None:
        hub = EventHub(state.settings.api_stream_poll_seconds)
        state.event_hub = hub
    return hub


def resume_position(last_event_id: str | None, after: int | None) -> int:
    """Where a stream starts: after the Last-Event-ID header's id, else ``after``, else 0."""
    if last_event_id is not None and last_event_id.strip():
        try:
            position = int(last_event_id.strip())
        except ValueError:
            position = -1
        if position < 0:
            raise invalid(
                f"Last-Event-ID must be an event id (a whole number >= 0), not "
                f"{last_event_id!r}: send the id of the last event you received"
            )
        return position
    return after or 0


def as_event(view: EventView, cursor: Cursor) -> Event:
    return Event(view.id, str(view.event_type), cursor=cursor, frame=frame(view))


def frame(view: EventView) -> str:
    """``id``, ``event`` and ``data`` (the event as JSON, on one line)."""
    data = json.dumps(
        jsonable_encoder(dataclasses.asdict(view)), separators=(",", ":"), ensure_ascii=False
    )
    return f"id: {view.id}\nevent: {view.event_type}\ndata: {data}\n\n"


def end_frame(status: str) -> str:
    return f"event: end\ndata: {json.dumps({'status': status})}\n\n"


#: The ``end`` status of a target deleted while it was followed.
GONE = "deleted"
#: The most events one read takes; a longer backlog is read in several (never "final" until
#: the last).
READ_LIMIT = 500


def _batch(view_done: bool, status: str, page: EventPage) -> Batch:
    events = [as_event(e, c) for e, c in zip(page.events, page.cursors, strict=True)]
    return Batch(events, view_done and not page.more and not page.held, status, page.more)


def task_feed(client: AgentWorkerClient, tenant_id: uuid.UUID, task_id: uuid.UUID) -> Fetch:
    def fetch(after: Cursor) -> Batch:
        with tenant_scope(tenant_id):
            try:
                view = client.get_task(task_id)  # the state first: see worker.api.event_hub
            except TaskNotFound:
                return Batch([], True, GONE)
            page = client.event_page(task_id, after=after, limit=READ_LIMIT)
        return _batch(view.done, view.status.value, page)

    return fetch


def execution_feed(
    client: AgentWorkerClient, tenant_id: uuid.UUID, execution_id: uuid.UUID
) -> Fetch:
    def fetch(after: Cursor) -> Batch:
        with tenant_scope(tenant_id):
            try:
                view = client.get_execution(execution_id)
            except TaskNotFound:
                return Batch([], True, GONE)
            page = client.event_page(execution_id, after=after, limit=READ_LIMIT)
        return _batch(view.done, view.status.value, page)

    return fetch


def event_stream(request: Request, key: Hashable, fetch: Fetch, after: Cursor) -> StreamingResponse:
    """Stream ``key``'s events after cursor ``after`` (the route finds the cursor of the
    client's event id first, so an unknown id is refused before the stream starts)."""
    hub = hub_of(request)
    keepalive = request.app.state.settings.api_stream_keepalive_seconds

    async def frames() -> AsyncIterator[str]:
        async with hub.follow(key, fetch, after) as follower:
            while True:
                got = await follower.next(keepalive)
                if got is None:
                    yield KEEP_ALIVE
                    continue
                events, final = got
                if events:
                    yield "".join(event.frame for event in events)
                if final:
                    yield end_frame(follower.status)
                    return

    return StreamingResponse(
        frames(),
        media_type=MEDIA_TYPE,
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
