"""The reaper re-publishes a PENDING task whose message was lost, never one that is only queued.

A task that waits in a backlog looks, from the database, just like one whose message was lost.
The reaper tells them apart by sending a probe message through the queue after the task's:
the broker delivers in order, so a probe that comes back first proves the task's message is
gone (DESIGN §5.1). Driven directly: ``reap`` with a recording publisher stands for the beat,
and ``record_probe_delivery`` for a worker receiving the probe; "time passes" by moving every
timestamp the reaper reads back.
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa

from tests.support.agents import add_agent
from tests.support.publisher import RecordingPublisher
from worker.agents.submission import create_task
from worker.core.contract import RUN_TASK, RunTaskRequest
from worker.core.settings import Settings
from worker.durable.leases import claim_task
from worker.durable.queue_probes import QUEUE_PROBE, record_probe_delivery
from worker.durable.reaper import reap

STALE_AFTER = 15.0


def _reap(engine: sa.Engine, publisher: RecordingPublisher) -> None:
    reap(engine, publisher, stale_after_seconds=STALE_AFTER, lost_wake_seconds=20)


def _submit(engine: sa.Engine, count: int = 1, *, priority: int = 0) -> list[uuid.UUID]:
    """Tasks committed (and, as far as the test is concerned, published)."""
    add_agent(engine, f"writer-{uuid.uuid4().hex[:6]}")
    with engine.connect() as connection:
        agent = connection.execute(
            sa.text("SELECT name FROM ai_agents ORDER BY created_at DESC LIMIT 1")
        ).scalar_one()
    with engine.begin() as connection:
        return [
            create_task(
                connection,
                Settings(),
                RunTaskRequest(tenant="acme", agent=agent, input=f"job {i}", priority=priority),
                idempotency_key=None,
            ).task_id
            for i in range(count)
        ]


def _time_passes(engine: sa.Engine, seconds: float) -> None:
    """Move back every timestamp the reaper compares with now() (past the updated_at trigger)."""
    with engine.begin() as connection:
        connection.execute(sa.text("SET LOCAL session_replication_role = replica"))
        back = {"s": seconds}
        connection.execute(
            sa.text(
                "UPDATE tasks SET updated_at = updated_at - make_interval(secs => :s), "
                "not_before = not_before - make_interval(secs => :s), "
                "lease_expires_at = lease_expires_at - make_interval(secs => :s)"
            ),
            back,
        )
        connection.execute(
            sa.text(
                "UPDATE queue_probes SET sent_at = sent_at - make_interval(secs => :s), "
                "passed_at = passed_at - make_interval(secs => :s), "
                "delivered_at = delivered_at - make_interval(secs => :s)"
            ),
            back,
        )


def _republished(publisher: RecordingPublisher) -> list[uuid.UUID]:
    return [uuid.UUID(kwargs["task_id"]) for name, kwargs, _ in publisher.sent if name == RUN_TASK]


def _probes(publisher: RecordingPublisher) -> list[dict[str, Any]]:
    return [kwargs for name, kwargs, _ in publisher.sent if name == QUEUE_PROBE]


def _deliver(engine: sa.Engine, probe: dict[str, Any]) -> None:
    """A worker received the probe: every message published before it was delivered."""
    assert record_probe_delivery(engine, probe, redelivered=False)


def _claim(engine: sa.Engine, task_ids: list[uuid.UUID]) -> None:
    with engine.begin() as connection:
        for task_id in task_ids:
            assert claim_task(connection, task_id, "worker-a", 3600) is not None


def test_a_backlog_whose_messages_are_queued_is_never_republished(engine: sa.Engine) -> None:
    backlog = _submit(engine, 60)
    _claim(engine, backlog[:5])  # the workers are busy with the first ones
    _time_passes(engine, 120)
    publisher = RecordingPublisher()

    _reap(engine, publisher)
    _reap(engine, publisher)
    assert _republished(publisher) == []
    assert len(_probes(publisher)) == 1, "one probe per queue and priority, not one per task"

    _time_passes(engine, 2 * STALE_AFTER)  # the probe is still queued behind the backlog
    _reap(engine, publisher)
    assert _republished(publisher) == []
    assert len(_probes(publisher)) == 2, "a probe that has not come back is sent again, once"


def test_a_task_whose_message_was_lost_is_republished_once_per_grace_period(
    engine: sa.Engine,
) -> None:
    (lost,) = _submit(engine)
    _time_passes(engine, 5)
    later = _submit(engine, 3)
    _time_passes(engine, 60)
    publisher = RecordingPublisher()

    _reap(engine, publisher)
    (probe,) = _probes(publisher)
    assert _republished(publisher) == []
    _claim(engine, later)  # the broker delivered what was queued after the lost one...
    _deliver(engine, probe)  # ...and then the probe
    _reap(engine, publisher)
    assert _republished(publisher) == [], "its claim may still be on its way"

    _time_passes(engine, 10)
    _reap(engine, publisher)
    assert _republished(publisher) == [lost]
    _reap(engine, publisher)
    assert _republished(publisher) == [lost], "re-published again at once"

    _time_passes(engine, 2 * STALE_AFTER)  # lost again: it takes a new probe to tell
    _reap(engine, publisher)
    assert _republished(publisher) == [lost]
    _deliver(engine, _probes(publisher)[-1])
    _time_passes(engine, 10)
    _reap(engine, publisher)
    assert _republished(publisher) == [lost, lost]
    with engine.connect() as connection:
        events = connection.execute(
            sa.text("SELECT content FROM event_logs WHERE task_id = :t"), {"t": lost}
        ).scalars()
        assert sum("re-published" in (event or "") for event in events) == 2


def test_a_probe_proves_only_what_the_broker_delivers_before_it(engine: sa.Engine) -> None:
    """Brokers serve the more urgent first: a probe of priority p overtakes the messages of
    lower priority, so it proves only those of priority p or higher."""
    (normal,) = _submit(engine, priority=0)
    (urgent,) = _submit(engine, priority=5)
    _time_passes(engine, 60)
    publisher = RecordingPublisher()

    _reap(engine, publisher)
    probes = {probe["priority"]: probe for probe in _probes(publisher)}
    assert sorted(probes) == [0, 5]
    _deliver(engine, probes[5])
    _time_passes(engine, 10)
    _reap(engine, publisher)
    assert _republished(publisher) == [urgent]

    _deliver(engine, probes[0])
    _time_passes(engine, 10)
    _reap(engine, publisher)
    assert _republished(publisher) == [urgent, normal]


def test_a_redelivered_probe_proves_nothing(engine: sa.Engine) -> None:
    """Redis puts a message restored from a dead worker at the head of its queue, ahead of
    what was queued before it."""
    _submit(engine)
    _time_passes(engine, 60)
    publisher = RecordingPublisher()
    _reap(engine, publisher)
    (probe,) = _probes(publisher)

    assert not record_probe_delivery(engine, probe, redelivered=True)
    _time_passes(engine, 10)
    _reap(engine, publisher)
    assert _republished(publisher) == []


def test_a_task_waiting_for_its_retry_after_is_not_suspected(engine: sa.Engine) -> None:
    (deferred,) = _submit(engine)
    with engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE tasks SET not_before = now() + interval '60 s' WHERE id = :t"),
            {"t": deferred},
        )
    _time_passes(engine, 30)  # queued 30 s ago, due in 30 s
    publisher = RecordingPublisher()

    _reap(engine, publisher)
    assert publisher.sent == []
