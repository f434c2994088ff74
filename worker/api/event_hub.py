"""One poller per followed task or execution, fanned out to every follower in this process.

A follower (an open SSE stream) holds no database connection: it waits on the feed of its
target. The feed's poller reads the target's state and its new events every
``poll_seconds`` in a worker thread, borrowing a pooled connection for the read only, so 100
followers of one task cost one short read per interval, not 100 connections.

Positions are commit-safe cursors (``worker.durable.event_order.Cursor``: the last event's
writer and id), not ids: a read returns only events that no later commit can precede, in
``(writer, id)`` order, so a feed that goes on from its last cursor never skips an event, even
when an execution's parallel branches commit out of id order. Event ids are unique but not
always increasing within a stream.

The state is read before the events, so when a read finds the target final, every event
committed before it became final is in the same read, or is held back (an older transaction
is still open) and the read says so (``Fetch`` then does not report ``final``): a follower that
has been sent every event and sees ``final`` is done. A feed keeps the events from its slowest
follower's position on; a follower that joins with an earlier position makes the next read
start there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Hashable
from dataclasses import dataclass

from worker.durable.event_order import Cursor

log = logging.getLogger(__name__)

#: How long a failed read waits before the next, at most (it doubles from ``poll_seconds``).
MAX_RETRY_SECONDS = 5.0


@dataclass(frozen=True)
class Event:
    id: int
    type: str
    #: Its place in commit-safe order.
    cursor: Cursor
    #: The event as its followers receive it (an SSE frame), encoded once for all of them.
    frame: str


@dataclass(frozen=True)
class Batch:
    """One read: the target's events after a position (in commit-safe order), and its state
    read just before them; ``final`` only when no event of it is held back."""

    events: list[Event]
    final: bool
    status: str
    #: The read stopped at its limit: read again at once.
    more: bool = False


#: Reads a target's events after a cursor; runs in a worker thread.
Fetch = Callable[[Cursor], Batch]


class Follower:
    def __init__(self, feed: Feed, position: Cursor) -> None:
        self._feed = feed
        self.position = position

    async def next(self, timeout: float) -> tuple[list[Event], bool] | None:
        """The events after this follower's position and whether the target is final (then no
        more will come), or None when nothing happened for ``timeout`` seconds."""
        feed = self._feed
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            if feed.floor <= self.position:
                events = [event for event in feed.events if event.cursor > self.position]
                if events or feed.final:
                    if events:
                        self.position = events[-1].cursor
                    feed.trim()
                    return events, feed.final
            changed = feed.changed
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                return None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), remaining)

    @property
    def status(self) -> str:
        return self._feed.status


class Feed:
    def __init__(self, hub: EventHub, key: Hashable, fetch: Fetch, floor: Cursor) -> None:
        self._hub = hub
        self._key = key
        self._fetch = fetch
        #: Every event after cursor ``floor`` up to the last read is in ``events``.
        self.floor = floor
        self.wanted_floor = floor
        self.events: list[Event] = []
        self.final = False
        self.status = ""
        self.changed = asyncio.Event()
        self._poke = asyncio.Event()
        self.followers: set[Follower] = set()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._poll(), name=f"feed {self._key}")

    def want(self, position: Cursor) -> None:
        if position < self.floor:
            self.wanted_floor = min(self.wanted_floor, position)
        self._poke.set()

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    def trim(self) -> None:
        """Drop the events every follower has been sent."""
        if not self.followers:
            return
        slowest = min(follower.position for follower in self.followers)
        if slowest > self.floor and self.wanted_floor >= self.floor:
            self.events = [event for event in self.events if event.cursor > slowest]
            self.floor = self.wanted_floor = slowest

    def _notify(self) -> None:
        changed, self.changed = self.changed, asyncio.Event()
        changed.set()

    async def _poll(self) -> None:
        retry = self._hub.poll_seconds
        while True:
            start = self.wanted_floor if self.wanted_floor < self.floor else self._cursor()
            try:
                batch = await asyncio.to_thread(self._fetch, start)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the database is away: the followers keep waiting
                log.warning("event feed %s: read failed (%s); retrying", self._key, error)
                await asyncio.sleep(retry)
                retry = min(retry * 2, MAX_RETRY_SECONDS)
                continue
            retry = self._hub.poll_seconds
            if start < self.floor:  # a read from an earlier position covers all we held
                self.events = batch.events
                self.floor = start
            else:
                self.events.extend(batch.events)
            self.status = batch.status
            # A follower that joined during the read with an earlier position needs one more.
            if batch.final and self.wanted_floor >= self.floor:
                self.final = True
                self._hub.forget(self._key, self)
            self._notify()
            if self.final:
                return
            self._poke.clear()
            if self.wanted_floor < self.floor or batch.more:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._poke.wait(), self._hub.poll_seconds)

    def _cursor(self) -> Cursor:
        return self.events[-1].cursor if self.events else self.floor


class EventHub:
    """The feeds of one API process, by target."""

    def __init__(self, poll_seconds: float) -> None:
        self.poll_seconds = poll_seconds
        self._feeds: dict[Hashable, Feed] = {}

    @property
    def feeds(self) -> int:
        return len(self._feeds)

    def followers_of(self, key: Hashable) -> int:
        feed = self._feeds.get(key)
        return len(feed.followers) if feed else 0

    def forget(self, key: Hashable, feed: Feed) -> None:
        if self._feeds.get(key) is feed:
            del self._feeds[key]

    @contextlib.asynccontextmanager
    async def follow(self, key: Hashable, fetch: Fetch, after: Cursor) -> AsyncIterator[Follower]:
        """Follow ``key``'s events after cursor ``after``; the feed is made (and its poller
        started) by its first follower and stopped when its last one leaves."""
        feed = self._feeds.get(key)
        if feed is None:
            feed = Feed(self, key, fetch, after)
            self._feeds[key] = feed
            feed.start()
        else:
            feed.want(after)
        follower = Follower(feed, after)
        feed.followers.add(follower)
        try:
            yield follower
        finally:
            feed.followers.discard(follower)
            if not feed.followers and not feed.final:
                self.forget(key, feed)
                feed.stop()
            else:
                feed.trim()
