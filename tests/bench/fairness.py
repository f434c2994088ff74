"""``--only fairness``: one tenant's burst against another tenant's few tasks (issue 15, item 4).

Tenant A submits a burst (5,000 tasks; 1,000 with ``--quick``), tenant B a few (50; 20) just
after; then the fleet starts (2 worker processes, agent tasks of one LLM call with a little
latency), so the burst is whole when B comes. B's completion times (finished_at - the later of
its submission and the fleet's start) are compared with B alone on an idle
system (target: p95 within 5x), and A's throughput with the window against without it
(``AGENTWORKER_TENANT_MAX_IN_FLIGHT`` so large that nothing is held). Then a micro-benchmark
of what a tenant's count costs: the partial index counted under the advisory lock
(``worker.durable.dispatch``), against a counter row per tenant updated in place.
"""

from __future__ import annotations

import statistics
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from models.db import create_sync_engine
from tests.bench.procs import LLMServerProcess, per_process, wait_until_ready, worker_processes
from tests.bench.scenarios.context import Context, worker_env
from tests.bench.scenarios.measure import wait_done
from tests.bench.services import unique
from tests.support.agents import add_agent, ensure_tenant
from worker.app import create_app
from worker.client import AgentWorkerClient
from worker.core.settings import Settings
from worker.dev.services import start_worker_process
from worker.durable import dispatch
from worker.durable.publishing import CeleryPublisher

#: So large that no task is ever held: dispatch as it was before the window.
NO_WINDOW = 10_000_000


@dataclass(frozen=True)
class FairnessPlan:
    burst: int = 5000
    few: int = 50
    processes: int = 2
    concurrency: int = 32  # in all, over the processes
    latency_ms: float = 100.0
    #: The window under test; 0: twice the fleet's concurrency (the advice in the README).
    window: int = 0

    @property
    def effective_window(self) -> int:
        return self.window or 2 * self.concurrency


QUICK_FAIRNESS = FairnessPlan(burst=1000, few=20)


@dataclass
class Leg:
    name: str
    window: int
    b_p50_s: float | None = None
    b_p95_s: float | None = None
    b_max_s: float | None = None
    a_tasks_per_s: float | None = None
    a_done_when_b_done: int | None = None
    submit_s: float = 0.0


@dataclass
class CountCost:
    in_flight: int
    held: int
    #: ``dispatch.fill_window`` as shipped: the advisory lock, the count, the held lookup.
    fill_window_ms: float
    #: The count alone over ix_tasks_in_flight, against one UPDATE of a counter row.
    index_count_ms: float
    counter_row_ms: float


@dataclass
class FairnessResults:
    plan: FairnessPlan
    legs: list[Leg] = field(default_factory=list)
    count_cost: CountCost | None = None

    def leg(self, name: str) -> Leg:
        return next(leg for leg in self.legs if leg.name == name)

    def ratios(self) -> dict[str, float | None]:
        alone, fair, unfair = self.leg("b-alone"), self.leg("window"), self.leg("no-window")
        return {
            "b_p95_vs_alone": _ratio(fair.b_p95_s, alone.b_p95_s),
            "b_p95_vs_alone_without_window": _ratio(unfair.b_p95_s, alone.b_p95_s),
            "a_throughput_vs_no_window": _ratio(fair.a_tasks_per_s, unfair.a_tasks_per_s),
        }

    def as_json(self) -> dict[str, Any]:
        return {
            "plan": asdict(self.plan),
            "legs": [asdict(leg) for leg in self.legs],
            "ratios": self.ratios(),
            "count_cost": asdict(self.count_cost) if self.count_cost else None,
        }


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a is not None and b else None


def fairness_section(results: FairnessResults) -> list[str]:
    plan = results.plan
    lines = [
        "",
        f"fairness: tenant A submits {plan.burst}, tenant B {plan.few} just after; "
        f"{plan.processes} worker processes, concurrency {plan.concurrency}, "
        f"LLM {plan.latency_ms:g} ms (one call per task)",
        "  leg         window     B p50 s  B p95 s  B max s  A tasks/s  A done when B done",
    ]
    for leg in results.legs:
        lines.append(
            f"  {leg.name:<11} {leg.window:>9,}  {_num(leg.b_p50_s):>7}  {_num(leg.b_p95_s):>7}"
            f"  {_num(leg.b_max_s):>7}  {_num(leg.a_tasks_per_s):>9}  "
            f"{'' if leg.a_done_when_b_done is None else leg.a_done_when_b_done:>7}"
        )
    ratios = results.ratios()
    target = ratios["b_p95_vs_alone"]
    verdict = "" if target is None else ("  [met]" if target <= 5 else "  [missed]")
    lines += [
        f"  B p95 with the window / B alone: {_num(target)} (target ≤ 5){verdict}",
        f"  B p95 without the window / B alone: {_num(ratios['b_p95_vs_alone_without_window'])}",
        f"  A's throughput with the window / without: {_num(ratios['a_throughput_vs_no_window'])}",
    ]
    if (cost := results.count_cost) is not None:
        lines.append(
            f"  a tenant's count ({cost.in_flight} in flight, {cost.held} held), one "
            f"transaction each: count over the partial index {cost.index_count_ms:.3f} ms, "
            f"counter row UPDATE {cost.counter_row_ms:.3f} ms; fill_window as shipped (lock, "
            f"count, held lookup) {cost.fill_window_ms:.3f} ms"
        )
    return lines


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


def run_fairness(ctx: Context, plan: FairnessPlan, say: Callable[[str], None]) -> FairnessResults:
    results = FairnessResults(plan)
    window = plan.effective_window
    say(f"(fairness) B alone: {plan.few} tasks on an idle fleet")
    results.legs.append(_leg(ctx, plan, "b-alone", window, burst=0))
    say(f"(fairness) window {window}: A {plan.burst} then B {plan.few}")
    results.legs.append(_leg(ctx, plan, "window", window, burst=plan.burst))
    say(f"(fairness) no window: A {plan.burst} then B {plan.few}")
    results.legs.append(_leg(ctx, plan, "no-window", NO_WINDOW, burst=plan.burst))
    say("(fairness) what a tenant's count costs")
    results.count_cost = _count_cost(ctx, window)
    for leg in results.legs:
        say(f"   {leg}")
    return results


def _leg(ctx: Context, plan: FairnessPlan, name: str, window: int, *, burst: int) -> Leg:
    database = ctx.database
    a, b = unique(f"fair-{name}-a"), unique(f"fair-{name}-b")
    for tenant in (a, b):
        add_agent(database.engine, "fair-agent", tenant=tenant)
    threads = per_process(plan.concurrency, plan.processes)
    app = create_app(ctx.broker.url)
    engine = create_sync_engine(database.url)
    settings = Settings(database_url=database.url, tenant_max_in_flight=window)
    client = AgentWorkerClient(engine, CeleryPublisher(app), settings)
    leg = Leg(name, window)
    try:
        # Both tenants submit before the fleet starts, so that the burst is whole when B
        # comes (submitting 5,000 tasks takes longer than the fleet needs to run many).
        started = time.perf_counter()
        for number in range(burst):
            client.submit(tenant=a, agent="fair-agent", input=f"A {number}")
        b_ids = [
            client.submit(tenant=b, agent="fair-agent", input=f"B {number}")
            for number in range(plan.few)
        ]
        leg.submit_s = round(time.perf_counter() - started, 3)
        tenant_a, tenant_b = ensure_tenant(database.engine, a), ensure_tenant(database.engine, b)
        with LLMServerProcess(ctx.logs / f"fair-{name}-llm.log", latency_ms=plan.latency_ms) as llm:
            env = worker_env(ctx, llm.base_url, threads)
            env["AGENTWORKER_TENANT_MAX_IN_FLIGHT"] = str(window)

            def start(hostname: str, log_path: Path) -> subprocess.Popen[bytes]:
                return start_worker_process(env, log_path, concurrency=threads, hostname=hostname)

            with worker_processes(
                start, count=plan.processes, logs=ctx.logs, name=f"fair-{name}", prefix="fair"
            ) as workers:
                wait_until_ready(app, workers)
                wait_done(
                    lambda: _finished(database.engine, tenant_b),
                    plan.few,
                    workers,
                    what=f"fairness {name} (B)",
                    stall_seconds=300,
                )
                if burst:
                    leg.a_done_when_b_done = _finished(database.engine, tenant_a)
                    wait_done(
                        lambda: _finished(database.engine, tenant_a),
                        burst,
                        workers,
                        what=f"fairness {name} (A)",
                        stall_seconds=120,
                    )
                    leg.a_tasks_per_s = _throughput(database.engine, tenant_a, burst)
    finally:
        client.close()
        app.close()
    ctx.broker.flush()
    # The fleet's start: its first claim (a worker may claim before its ping is answered).
    with database.engine.connect() as connection:
        fleet_start = connection.execute(
            sa.text("SELECT min(started_at) FROM tasks WHERE tenant_id IN (:a, :b)"),
            {"a": tenant_a, "b": tenant_b},
        ).scalar_one()
    waits = _completion_seconds(database.engine, b_ids, fleet_start)
    leg.b_p50_s = round(statistics.median(waits), 3)
    leg.b_p95_s = round(_p95(waits), 3)
    leg.b_max_s = round(max(waits), 3)
    return leg


def _finished(engine: sa.Engine, tenant_id: uuid.UUID) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(
                sa.text(
                    "SELECT count(*) FROM tasks WHERE tenant_id = :t "
                    "AND status IN ('SUCCEEDED', 'FAILED', 'CANCELLED')"
                ),
                {"t": tenant_id},
            ).scalar_one()
        )


def _throughput(engine: sa.Engine, tenant_id: uuid.UUID, tasks: int) -> float:
    with engine.connect() as connection:
        seconds = connection.execute(
            sa.text(
                "SELECT extract(epoch FROM max(finished_at) - min(started_at)) FROM tasks "
                "WHERE tenant_id = :t"
            ),
            {"t": tenant_id},
        ).scalar_one()
    return round(tasks / float(seconds), 1)


def _completion_seconds(
    engine: sa.Engine, task_ids: list[uuid.UUID], ready_at: datetime
) -> list[float]:
    """Each task's time to finish, from its submission or the fleet's first claim if later."""
    with engine.connect() as connection:
        return [
            float(value)
            for value in connection.execute(
                sa.text(
                    "SELECT extract(epoch FROM finished_at - greatest(created_at, :ready)) "
                    "FROM tasks WHERE id = ANY(:ids)"
                ),
                {"ids": task_ids, "ready": ready_at},
            ).scalars()
        ]


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def _count_cost(ctx: Context, window: int, held: int = 5000, rounds: int = 2000) -> CountCost:
    """Per admission: ``dispatch.fill_window`` (advisory lock, count over the partial index,
    no room so nothing released) against one UPDATE of a counter row, each in its own
    transaction, with ``window`` tasks in flight and ``held`` held."""
    engine = ctx.database.engine
    tenant = unique("fair-count")
    add_agent(engine, "fair-agent", tenant=tenant)
    tenant_id = ensure_tenant(engine, tenant)
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO tasks (tenant_id, status, released_at) "
                "SELECT :t, 'PENDING', CASE WHEN g <= :w THEN now() END "
                "FROM generate_series(1, :n) AS g"
            ),
            {"t": tenant_id, "w": window, "n": window + held},
        )
        connection.execute(
            sa.text(
                "CREATE TABLE IF NOT EXISTS bench_tenant_counters "
                "(tenant_id uuid PRIMARY KEY, in_flight integer NOT NULL)"
            )
        )
        connection.execute(
            sa.text("INSERT INTO bench_tenant_counters VALUES (:t, :w) ON CONFLICT DO NOTHING"),
            {"t": tenant_id, "w": window},
        )
    with engine.connect() as connection:
        connection.execute(sa.text("ANALYZE tasks"))
        connection.commit()

    def fill_window() -> None:
        with engine.begin() as connection:
            assert dispatch.fill_window(connection, tenant_id, window) == []

    def index_count() -> None:
        with engine.begin() as connection:
            assert dispatch.in_flight_count(connection, tenant_id) == window

    def counter_row() -> None:
        with engine.begin() as connection:
            connection.execute(
                sa.text(
                    "UPDATE bench_tenant_counters SET in_flight = in_flight WHERE tenant_id = :t "
                    "RETURNING in_flight"
                ),
                {"t": tenant_id},
            ).scalar_one()

    costs = {
        fn.__name__: _per_call_ms(fn, rounds) for fn in (fill_window, index_count, counter_row)
    }
    with engine.begin() as connection:
        connection.execute(sa.text("DELETE FROM tasks WHERE tenant_id = :t"), {"t": tenant_id})
        connection.execute(sa.text("DROP TABLE bench_tenant_counters"))
    return CountCost(window, held, costs["fill_window"], costs["index_count"], costs["counter_row"])


def _per_call_ms(fn: Callable[[], None], rounds: int) -> float:
    for _ in range(50):
        fn()
    started = time.perf_counter()
    for _ in range(rounds):
        fn()
    return round((time.perf_counter() - started) * 1000 / rounds, 4)


@dataclass(frozen=True)
class OnlyFairness:
    """``--only fairness``: the machine and the fairness figures."""

    meta: dict[str, object]
    fairness: FairnessResults

    def render(self) -> str:
        meta = self.meta
        head = [
            f"agentworker benchmark, fairness only ({meta['mode']} run, {meta['started_at']})",
            f"  machine: {meta['cpus']} CPUs, {meta['platform']}, Python {meta['python']}",
            f"  PostgreSQL {meta['postgres']} ({meta['postgres_origin']}), "
            f"Redis {meta['redis']} ({meta['redis_origin']})",
        ]
        return "\n".join(head + fairness_section(self.fairness)) + "\n"

    def as_json(self) -> dict[str, object]:
        return {"meta": self.meta, "fairness": self.fairness.as_json()}
