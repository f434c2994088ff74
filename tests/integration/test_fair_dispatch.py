"""Fair dispatch: a tenant's burst does not queue another tenant behind its backlog.

Each tenant has at most a window of tasks released to the broker (queued or running); the
rest are held in PostgreSQL and released as the tenant's tasks finish
(``worker.durable.dispatch``). Driven directly: a FIFO publisher stands for the broker, and a
simulated fleet takes messages in order, claims each task and ends it through the real
ending (``worker.agents.endings.fail``), whose transaction releases the next held task.
"""

from __future__ import annotations

import threading
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import sqlalchemy as sa

from models import EventType
from models.tenant_scope import tenant_scope
from tests.support.agents import add_agent, ensure_tenant
from tests.support.workflows import add_workflow
from worker.agents.endings import fail
from worker.agents.runner import execute_task
from worker.agents.runtime import Runtime, build_runtime
from worker.app.handlers import handle_run_task
from worker.automation import save_rule, sweep
from worker.client import submit_request
from worker.core.contract import RUN_TASK, RunTaskRequest
from worker.core.settings import Settings
from worker.durable import dispatch, records
from worker.durable.leases import ClaimedTask, claim_task
from worker.durable.queue_probes import QUEUE_PROBE, record_probe_delivery
from worker.durable.reaper import reap
from worker.workflows.cancellation import cancel
from worker.workflows.catalog import start_execution
from worker.workflows.engine import advance

WINDOW = 20


@dataclass
class FifoBroker:
    """A publisher that queues task messages in order, as the broker hands them out."""

    queue: deque[uuid.UUID] = field(default_factory=deque)
    released: list[uuid.UUID] = field(default_factory=list)
    other: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def publish(
        self,
        name: str,
        kwargs: dict[str, Any],
        *,
        task_id: str | None = None,
        countdown: float | None = None,
        priority: int | None = None,
    ) -> str:
        if name == RUN_TASK:
            self.queue.append(uuid.UUID(kwargs["task_id"]))
            self.released.append(uuid.UUID(kwargs["task_id"]))
        else:
            self.other.append((name, kwargs))
        return task_id or f"recorded-{len(self.released) + len(self.other)}"


@pytest.fixture
def broker() -> FifoBroker:
    return FifoBroker()


@pytest.fixture
def runtime(database_url: str, engine: sa.Engine, broker: FifoBroker) -> Iterator[Runtime]:
    for tenant in ("a", "b"):
        add_agent(engine, "writer", tenant=tenant)
    settings = Settings(database_url=database_url, tenant_max_in_flight=WINDOW)
    runtime = build_runtime(settings, broker, heartbeat=False, concurrency=4)
    yield runtime
    runtime.close()


def _submit(
    runtime: Runtime, tenant: str, count: int, *, key: str | None = None
) -> list[uuid.UUID]:
    return [
        submit_request(
            runtime.engine,
            runtime.publisher,
            runtime.settings,
            RunTaskRequest(
                tenant=tenant, agent="writer", input=f"job {i}", idempotency_key=key, metadata={}
            ),
        ).task_id
        for i in range(count)
    ]


def _in_flight(engine: sa.Engine) -> dict[uuid.UUID, int]:
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT id FROM tenants")).scalars().all()
        return {tenant: dispatch.in_flight_count(connection, tenant) for tenant in rows}


def _finish(runtime: Runtime, task_id: uuid.UUID) -> bool:
    """A worker takes the message: claims the task and ends it (its ending releases)."""
    with runtime.engine.begin() as connection:
        claimed = claim_task(connection, task_id, runtime.owner, 3600)
    if not isinstance(claimed, ClaimedTask):
        return False
    fail(runtime, claimed, None, RuntimeError("done"), "done (simulated)")
    return True


def _drain(runtime: Runtime, broker: FifoBroker, fleet: int = 4) -> list[uuid.UUID]:
    """Run the fleet until the broker is empty; the order in which tasks finished. After
    every step, no tenant has more than its window released and unfinished."""
    finished: list[uuid.UUID] = []
    while broker.queue:
        batch = [broker.queue.popleft() for _ in range(min(fleet, len(broker.queue)))]
        finished.extend(task_id for task_id in batch if _finish(runtime, task_id))
        assert max(_in_flight(runtime.engine).values()) <= WINDOW
    return finished


def _status(engine: sa.Engine, task_id: uuid.UUID) -> tuple[str, bool]:
    with engine.connect() as connection:
        row = connection.execute(
            sa.text("SELECT status, released_at IS NOT NULL AS released FROM tasks WHERE id = :t"),
            {"t": task_id},
        ).one()
    return row.status, row.released


def test_a_tenant_submitting_after_a_burst_is_served_before_the_backlog_drains(
    runtime: Runtime, broker: FifoBroker
) -> None:
    a = _submit(runtime, "a", 500)
    assert len(broker.released) == WINDOW, "the burst's tasks beyond the window are held"
    assert max(_in_flight(runtime.engine).values()) == WINDOW
    b = _submit(runtime, "b", 10)

    finished = _drain(runtime, broker)

    tenants = 2
    bound = WINDOW + len(b) + tenants * WINDOW
    positions = [broker.released.index(task_id) for task_id in b]
    assert max(positions) < bound, f"B released at {positions}, after A's backlog"
    done_at = [finished.index(task_id) for task_id in b]
    assert max(done_at) < WINDOW + len(b), f"B finished at {done_at} of {len(finished)}"
    assert sorted(finished) == sorted([*a, *b]), "every task ran, once"
    assert len(broker.released) == len(a) + len(b), "a task was released twice"
    assert broker.released[:WINDOW] == a[:WINDOW]
    assert [t for t in broker.released if t in set(a)] == a, "A's released out of order"


def test_the_window_holds_under_concurrent_submissions(
    runtime: Runtime, broker: FifoBroker
) -> None:
    """Two hosts admitting for one tenant at once cannot both fill its last slot."""
    errors: list[BaseException] = []

    def submit() -> None:
        try:
            _submit(runtime, "a", 15)
        except BaseException as error:  # surfaced by the assert below
            errors.append(error)

    threads = [threading.Thread(target=submit) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(broker.released) == WINDOW
    assert max(_in_flight(runtime.engine).values()) == WINDOW
    assert len(_drain(runtime, broker)) == 60


def test_a_tenant_may_have_its_own_window(runtime: Runtime, broker: FifoBroker) -> None:
    tenant_id = ensure_tenant(runtime.engine, "b")
    with runtime.engine.begin() as connection:
        connection.execute(
            sa.text(
                'UPDATE tenants SET metadata = \'{"dispatch": {"max_in_flight": 3}}\' WHERE id = :t'
            ),
            {"t": tenant_id},
        )
    _submit(runtime, "b", 10)
    assert len(broker.released) == 3
    assert dispatch.max_in_flight(7, {"dispatch": {"max_in_flight": 0}}) == 7
    assert dispatch.max_in_flight(7, {"dispatch": {"max_in_flight": "9"}}) == 7


def test_the_reaper_releases_what_a_lost_release_left_held(
    runtime: Runtime, broker: FifoBroker
) -> None:
    a = _submit(runtime, "a", 30)
    with runtime.engine.begin() as connection:  # five end, their releases are lost (a crash)
        connection.execute(
            sa.text(
                "UPDATE tasks SET status = 'SUCCEEDED', finished_at = now() WHERE id = ANY(:ids)"
            ),
            {"ids": a[:5]},
        )
    broker.released.clear()

    report = reap(runtime.engine, broker, stale_after_seconds=300, max_in_flight=WINDOW)

    assert broker.released == a[WINDOW : WINDOW + 5], "the oldest held, once each"
    assert report.released_held == 5
    reap(runtime.engine, broker, stale_after_seconds=300, max_in_flight=WINDOW)
    assert len(broker.released) == 5, "released again with no room"


def test_the_reaper_never_publishes_a_held_task(runtime: Runtime, broker: FifoBroker) -> None:
    a = _submit(runtime, "a", WINDOW + 5)
    held = set(a[WINDOW:])
    broker.queue.clear()  # every released message is lost
    with runtime.engine.begin() as connection:  # ...and long ago
        connection.execute(sa.text("SET LOCAL session_replication_role = replica"))
        connection.execute(sa.text("UPDATE tasks SET updated_at = now() - interval '1 hour'"))
    broker.released.clear()

    reap(runtime.engine, broker, stale_after_seconds=15, max_in_flight=WINDOW)
    assert broker.released == []
    (probe,) = [kwargs for name, kwargs in broker.other if name == QUEUE_PROBE]
    assert record_probe_delivery(runtime.engine, probe, redelivered=False)
    with runtime.engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE queue_probes SET delivered_at = delivered_at - interval '1 minute'")
        )
    reap(runtime.engine, broker, stale_after_seconds=15, max_in_flight=WINDOW)

    assert sorted(broker.released) == sorted(a[:WINDOW]), "the lost released ones, only"
    assert held.isdisjoint(broker.released)
    assert all(_status(runtime.engine, t) == ("PENDING", False) for t in held)


def test_a_held_task_can_be_cancelled(runtime: Runtime, broker: FifoBroker) -> None:
    a = _submit(runtime, "a", WINDOW + 1)
    (held,) = a[WINDOW:]
    assert cancel(runtime.engine, broker, held, reason="no longer needed").changed
    assert _status(runtime.engine, held) == ("CANCELLED", False)
    finished = _drain(runtime, broker)
    assert held not in finished and held not in broker.released
    assert _status(runtime.engine, held) == ("CANCELLED", False)


def test_an_idempotent_resubmission_of_a_held_task_returns_it_unchanged(
    runtime: Runtime, broker: FifoBroker
) -> None:
    _submit(runtime, "a", WINDOW)
    request = RunTaskRequest(
        tenant="a", agent="writer", input="once", idempotency_key="k-1", metadata={}
    )
    first = submit_request(runtime.engine, broker, runtime.settings, request)
    again = submit_request(runtime.engine, broker, runtime.settings, request)
    assert (first.created, first.released) == (True, False)
    assert (again.task_id, again.created, again.released, again.releases) == (
        first.task_id,
        False,
        False,
        (),
    )
    assert first.task_id not in broker.released
    assert _status(runtime.engine, first.task_id) == ("PENDING", False)


def test_a_foreign_submission_beyond_the_window_is_held_not_run(
    runtime: Runtime, broker: FifoBroker
) -> None:
    _submit(runtime, "a", WINDOW)
    payload = {"tenant": "a", "agent": "writer", "input": "from elsewhere"}

    outcome = handle_run_task(runtime, payload, f"foreign-{uuid.uuid4()}")

    assert outcome.status == "held"
    assert _status(runtime.engine, outcome.task_id) == ("PENDING", False)
    assert len(broker.released) == WINDOW
    finished = _drain(runtime, broker)
    assert outcome.task_id in finished, "released once the tenant's window had room"


def test_a_workflow_step_task_waits_in_its_tenants_window(
    runtime: Runtime, broker: FifoBroker
) -> None:
    engine = runtime.engine
    tenant_id = ensure_tenant(engine, "a")
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                'UPDATE tenants SET metadata = \'{"dispatch": {"max_in_flight": 1}}\' WHERE id = :t'
            ),
            {"t": tenant_id},
        )
    (first,) = _submit(runtime, "a", 1)
    add_workflow(engine, "flow", [{"key": "draft", "kind": "agent", "agent": "writer"}], "a")
    with engine.begin() as connection:
        execution_id = start_execution(
            connection, tenant="a", workflow="flow", input={}, idempotency_key=None
        ).execution_id
    advance(engine, broker, execution_id)
    advance(engine, broker, execution_id)  # woken again: still nothing published for it
    with engine.connect() as connection:
        step_task = connection.execute(
            sa.text("SELECT id FROM tasks WHERE workflow_execution_id = :e"), {"e": execution_id}
        ).scalar_one()
    assert broker.released == [first]
    assert _status(engine, step_task) == ("PENDING", False)

    assert _drain(runtime, broker) == [first, step_task]


def _own_window(engine: sa.Engine, tenant: str, size: int) -> None:
    """The tenant's own window: what every path reads, whatever its process's default."""
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "UPDATE tenants SET metadata = jsonb_build_object('dispatch', "
                "jsonb_build_object('max_in_flight', :n)) WHERE id = :t"
            ),
            {"n": size, "t": ensure_tenant(engine, tenant)},
        )


def test_cancelling_a_queued_task_releases_the_next_held_one_at_once(
    runtime: Runtime, broker: FifoBroker
) -> None:
    _own_window(runtime.engine, "a", 2)
    queued, _, held = _submit(runtime, "a", 3)
    assert _status(runtime.engine, held) == ("PENDING", False)

    assert cancel(runtime.engine, broker, queued, reason="not needed").changed

    assert _status(runtime.engine, held) == ("PENDING", True)  # no reaper needed
    assert broker.released.count(held) == 1


def test_a_task_given_up_on_releases_the_next_held_one(
    runtime: Runtime, broker: FifoBroker
) -> None:
    _own_window(runtime.engine, "a", 1)
    doomed, held = _submit(runtime, "a", 2)
    with runtime.engine.begin() as connection:  # its workers died each time
        connection.execute(
            sa.text("UPDATE tasks SET attempts = max_attempts WHERE id = :t"), {"t": doomed}
        )

    outcome = execute_task(runtime, doomed)

    assert outcome.status == "failed" and "gave up" in outcome.detail
    assert _status(runtime.engine, held) == ("PENDING", True)
    assert broker.released.count(held) == 1


def test_an_automation_rule_submits_through_the_window(
    runtime: Runtime, broker: FifoBroker, runtime_engine: sa.Engine
) -> None:
    _own_window(runtime.engine, "a", 1)
    (busy,) = _submit(runtime, "a", 1)
    tenant_id = ensure_tenant(runtime.engine, "a")
    rule = {
        "name": "again-on-boom",
        "trigger": {"event": "ERROR"},
        "action": {"run_agent": {"agent": "writer", "input": "again: {{ event.content }}"}},
    }
    with tenant_scope(tenant_id), runtime_engine.begin() as connection:
        save_rule(connection, tenant_id, rule, actor="test")
    with runtime.engine.begin() as connection:
        records.write(
            connection,
            events=[records.event(records.Scope(tenant_id), EventType.ERROR, "boom", {})],
        )

    swept = sweep(runtime_engine, broker, runtime.settings)

    assert swept.firings == {"fired": 1}
    with runtime.engine.connect() as connection:
        fired = connection.execute(
            sa.text("SELECT id FROM tasks WHERE idempotency_key LIKE 'automation:%'")
        ).scalar_one()
    assert _status(runtime.engine, fired) == ("PENDING", False)  # held: the window is full
    assert broker.released == [busy]
    assert fired in _drain(runtime, broker), "released once the busy task finished"


def _tenant_id(engine: sa.Engine, slug: str) -> uuid.UUID:
    with engine.connect() as connection:
        return connection.execute(
            sa.text("SELECT id FROM tenants WHERE slug = :s"), {"s": slug}
        ).scalar_one()


def test_an_ending_hands_its_slot_on_without_waiting_for_the_tenants_lock(
    runtime: Runtime, broker: FifoBroker, engine: sa.Engine
) -> None:
    """A busy tenant's endings do not queue behind one another (or behind an admission on
    another host): the ending task's slot goes to one held task in the ending's own
    transaction, with no lock."""
    _submit(runtime, "a", WINDOW + 5)
    tenant = _tenant_id(engine, "a")
    first = broker.queue.popleft()
    finished = threading.Event()
    with engine.connect() as admission:  # another host admitting for the tenant, for long
        admission.execute(
            sa.text("SELECT pg_advisory_xact_lock(:c, hashtext(CAST(:t AS text)))"),
            {"c": dispatch._LOCK_CLASS, "t": tenant},
        )
        worker = threading.Thread(target=lambda: (_finish(runtime, first), finished.set()))
        worker.start()
        handed_on = finished.wait(timeout=15)
        admission.rollback()
    worker.join(timeout=15)
    assert handed_on, "the ending waited for the tenant's lock"
    assert len(broker.released) == WINDOW + 1
    assert _in_flight(engine)[tenant] == WINDOW


def test_endings_and_admissions_at_once_never_exceed_the_window(
    runtime: Runtime, broker: FifoBroker, engine: sa.Engine
) -> None:
    _submit(runtime, "a", WINDOW + 30)
    tenant = _tenant_id(engine, "a")
    errors: list[BaseException] = []
    running = [broker.queue.popleft() for _ in range(WINDOW)]

    def end(task_ids: list[uuid.UUID]) -> None:
        try:
            for task_id in task_ids:
                _finish(runtime, task_id)
        except BaseException as error:  # surfaced by the assert below
            errors.append(error)

    def admit() -> None:
        try:
            _submit(runtime, "a", 10)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=end, args=(running[i::4],)) for i in range(4)]
    threads += [threading.Thread(target=admit) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert _in_flight(engine)[tenant] == WINDOW  # each ending handed on exactly its own slot
    assert len(_drain(runtime, broker)) == WINDOW + 30 + 20 - WINDOW
