"""The soak behind ``make chaos``: thousands of jobs of every kind over a fleet of worker
processes while a driver SIGKILLs a worker every ~10 s, restarts PostgreSQL once and Redis
once, the LLM fails one call in ten, and malformed messages arrive among the good ones.

Everything runs on services of its own (an embedded PostgreSQL and Redis it may restart, the
local LLM server, the sink), so nothing else on the machine is disturbed. Afterwards the
database is checked with the campaign's invariants and ``SoakReport`` holds the table.
"""

from __future__ import annotations

import base64
import contextlib
import json
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis as redis_py
import sqlalchemy as sa

from tests.chaos import workload as work
from tests.chaos.approver import ScriptedApprover
from tests.chaos.fleet import Fleet
from tests.chaos.malformed import MALFORMED, recorded, send_malformed
from tests.chaos.outages import restart_postgres, restart_redis
from tests.chaos.recovery import Fault, RecoveryClock
from tests.chaos.soak_services import SoakServices, soak_services
from tests.support import invariants

#: How the jobs are made up (weights): a tenth of the agent tasks come from a "foreign"
#: service through a raw send_task, with the whole request in the message.
MIX = {
    work.AGENT: 30,
    "foreign": 10,
    work.AGENT_ONCE: 10,
    work.APPROVED: 14,
    work.REJECTED: 9,
    work.EXPIRED: 7,
    work.PARALLEL: 10,
    work.CONDITION: 10,
}


@dataclass(frozen=True)
class SoakOptions:
    jobs: int = 2000
    workers: int = 2
    concurrency: int = 8
    #: Jobs submitted per second: the soak runs jobs / rate seconds, then drains.
    rate: float = 8.0
    kill_every: float = 10.0
    #: One LLM call in this many fails (HTTP 500).
    llm_failure_every: int = 10
    #: The gate of the ``expired`` kind expires after this long (the approver leaves it).
    expires_in_seconds: int = 8
    drain_seconds: float = 240.0
    seed: int = 11
    keep: Path | None = None  # keep logs and data here instead of a temporary directory


@dataclass
class SoakReport:
    options: SoakOptions
    submitted: int = 0
    succeeded: int = 0
    failed: dict[str, int] = field(default_factory=dict)
    cancelled: int = 0
    lost: list[str] = field(default_factory=list)
    repeated: list[str] = field(default_factory=list)
    bypassed: list[str] = field(default_factory=list)
    stranded: list[str] = field(default_factory=list)
    unrecorded: list[str] = field(default_factory=list)
    crashes: list[str] = field(default_factory=list)
    effects_lost: list[str] = field(default_factory=list)
    failed_examples: list[str] = field(default_factory=list)
    #: For faults recovered from late (or never): what came back last, as the rows say now.
    slowest: list[str] = field(default_factory=list)
    events_out_of_order: list[str] = field(default_factory=list)
    llm_requests: int = 0
    llm_bound: int = 0
    malformed: int = 0
    kills: int = 0
    completion: dict[str, tuple[float, float]] = field(default_factory=dict)
    recoveries: list[Fault] = field(default_factory=list)
    seconds: float = 0.0
    drained: bool = True
    #: Faults the driver could not throw (the soak proves less than it claims then).
    driver_errors: list[str] = field(default_factory=list)

    def must_be_zero(self) -> dict[str, int]:
        return {
            "lost": len(self.lost),
            "side effects repeated": len(self.repeated),
            "gates bypassed": len(self.bypassed),
            "stranded": len(self.stranded),
            "malformed messages unrecorded": len(self.unrecorded),
            "worker crashes not caused by the driver": len(self.crashes),
        }

    @property
    def ok(self) -> bool:
        return not any(self.must_be_zero().values()) and not self.driver_errors


def run_soak(options: SoakOptions, log: Any = print) -> SoakReport:
    started = time.monotonic()
    with soak_services(options.keep, options.llm_failure_every) as services:
        report = _Soak(options, services, log).run()
    report.seconds = time.monotonic() - started
    return report


class _Soak:
    def __init__(self, options: SoakOptions, services: SoakServices, log: Any) -> None:
        self.options = options
        self.services = services
        self.log = log
        self.random = random.Random(options.seed)
        self.report = SoakReport(options)
        self.jobs: dict[str, work.Job] = {}
        self.foreign_keys: list[str] = []
        self.foreign_sent_at: dict[str, float] = {}
        self.malformed: list[tuple[str, str, float]] = []  # (message id, what, when sent)
        self.workload = work.seed(
            services.engine, separate_models=False, expires_in_seconds=options.expires_in_seconds
        )
        self.fleet = Fleet(services.worker_env, services.tmp, options.workers, options.concurrency)
        self.approver = ScriptedApprover(
            services.engine, services.app, expire_now=False, resend_after=3.0, interval=0.3
        )
        self.clock = RecoveryClock(services.engine)
        self._stop_driver = threading.Event()

    def run(self) -> SoakReport:
        options = self.options
        window = options.jobs / options.rate
        self.log(
            f"chaos: {options.jobs} jobs over {window:.0f} s, {options.workers} workers x "
            f"{options.concurrency} threads; logs in {self.services.tmp}"
        )
        self.fleet.start()
        self.approver.start()
        self.clock.start()
        driver = threading.Thread(target=self._drive, args=(window,), name="chaos-driver")
        driver.start()
        try:
            self._submit_all(window)
        finally:
            self._stop_driver.set()
            driver.join()
        self.log(f"chaos: all submitted; draining (up to {options.drain_seconds:.0f} s)")
        self.report.drained = self._drain()
        self.approver.stop()
        self.clock.stop()
        self.fleet.watch()
        self.fleet.stop()
        self._measure()
        return self.report

    # -- load --------------------------------------------------------------------------------

    def _submit_all(self, window: float) -> None:
        kinds = list(MIX)
        weights = list(MIX.values())
        # Every kind at least once; about one message in fifty past that.
        count = max(len(MALFORMED), self.options.jobs // 50)
        malformed_every = max(1, self.options.jobs // count)
        start = time.monotonic()
        for number in range(self.options.jobs):
            due = start + number / self.options.rate
            time.sleep(max(0.0, due - time.monotonic()))
            kind = self.random.choices(kinds, weights)[0]
            self._retrying(lambda k=kind, n=number: self._submit(k, n))
            if number % malformed_every == malformed_every // 2:
                self._retrying(self._send_malformed)
        self.report.submitted = len(self.jobs) + len(self.foreign_keys)

    def _send_malformed(self) -> None:
        message_id, what = send_malformed(self.services.app, len(self.malformed))
        self.malformed.append((message_id, what, time.monotonic()))

    def _submit(self, kind: str, number: int) -> None:
        key = f"chaos-{number}"
        if kind == "foreign":
            self.services.app.send_task(
                "agents.run_task",
                kwargs={
                    "tenant": work.TENANT,
                    "agent": self.workload.agents[work.AGENT],
                    "input": f"Foreign notice {number}",
                    "idempotency_key": key,
                },
                queue="agents",
            )
            self.foreign_keys.append(key)
            self.foreign_sent_at[key] = time.monotonic()
        else:
            self.jobs[key] = self.workload.submit(self.services.client, kind, key=key)

    def _retrying(self, action: Any, seconds: float = 60.0) -> None:
        """Submissions go on through the faults, as a caller's would (same key: no dupes)."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                action()
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    # -- faults ------------------------------------------------------------------------------

    def _drive(self, window: float) -> None:
        """The driver thread: a kill every ~``kill_every`` s, the two restarts on the way; a
        fault it could not throw is reported, never raised."""
        try:
            self._throw_faults(window)
        except Exception as error:
            self.report.driver_errors.append(f"{type(error).__name__}: {error}")

    def _throw_faults(self, window: float) -> None:
        start = time.monotonic()
        infra = [(0.35 * window, "postgres"), (0.65 * window, "redis")]
        next_kill = start + self._jitter()
        while not self._stop_driver.wait(0.2):
            now = time.monotonic()
            self.fleet.watch()
            if infra and now - start >= infra[0][0]:
                _, what = infra.pop(0)
                self._restart(what)
            elif now >= next_kill:
                index = self.random.randrange(self.options.workers)
                self.clock.fault("worker kill")
                self.fleet.kill(index)
                next_kill = time.monotonic() + self._jitter()
        for _, what in infra:  # a short soak still restarts both, once
            self._restart(what)

    def _restart(self, what: str) -> None:
        self.log(f"chaos: restarting {'PostgreSQL' if what == 'postgres' else 'Redis'}")
        if what == "postgres":
            self.clock.fault("PostgreSQL restart")
            restart_postgres(self.services.postgres, down_seconds=3)
        else:
            self.clock.fault("Redis restart")
            restart_redis(self.services.redis, down_seconds=3)

    def _nearest_fault(self, at: float) -> str:
        faults = [(abs(f.at - at), f) for f in self.clock.faults]
        if not faults:
            return "no fault near it"
        gap, fault = min(faults, key=lambda item: item[0])
        side = "before" if at <= fault.at else "after"
        return f"sent {gap:.1f} s {side} a {fault.name}"

    def _jitter(self) -> float:
        return self.options.kill_every * self.random.uniform(0.8, 1.2)

    def _drain(self) -> bool:
        """Wait until nothing is pending, running or waiting for the approver, and every
        foreign job has its row. A foreign job without a row yet is given up on only once its
        message is nowhere in Redis (neither queued nor unacked) and has not been for a minute,
        the recovery target: a message a killed worker held, or one that a Redis restart left
        unacked, stays invisible for the broker's visibility timeout (30 s) plus a restore
        sweep, and giving up while it is still there would count it lost when it is only late.
        """
        deadline = time.monotonic() + self.options.drain_seconds
        quiet_since: float | None = None
        while time.monotonic() < deadline:
            self.fleet.watch()
            with contextlib.suppress(sa.exc.SQLAlchemyError, redis_py.RedisError):
                if _open_work(self.services.engine):
                    quiet_since = None
                else:
                    missing = set(self._missing_foreign())
                    if not missing:
                        return True
                    if self._foreign_in_broker(missing):
                        quiet_since = None  # still on its way: wait (up to the deadline)
                    else:
                        quiet_since = quiet_since or time.monotonic()
                        if time.monotonic() - quiet_since > 60:
                            return True
            time.sleep(1)
        return False

    def _foreign_in_broker(self, keys: set[str]) -> dict[str, str]:
        """Where Redis still holds the messages of these foreign jobs ("queued" or
        "unacked"), by idempotency key."""
        client = redis_py.Redis.from_url(self.services.redis.url())
        try:
            held = [("unacked", raw) for raw in client.hvals("unacked")]
            for name in client.scan_iter("agents*"):  # the queue and its priority lists
                if client.type(name) == b"list":
                    held += [("queued", raw) for raw in client.lrange(name, 0, -1)]
        finally:
            client.close()
        found: dict[str, str] = {}
        for where, raw in held:
            key = _foreign_key_of(raw, unacked=where == "unacked")
            if key in keys:
                found[key] = where
        return found

    def _missing_foreign(self) -> list[str]:
        with self.services.engine.connect() as connection:
            found = set(
                connection.execute(
                    sa.text("SELECT idempotency_key FROM tasks WHERE idempotency_key = ANY(:k)"),
                    {"k": self.foreign_keys},
                ).scalars()
            )
        return [k for k in self.foreign_keys if k not in found]

    # -- the table ---------------------------------------------------------------------------

    def _measure(self) -> None:
        report, engine = self.report, self.services.engine
        report.kills = self.fleet.kills
        report.malformed = len(self.malformed)
        report.recoveries = list(self.clock.faults)
        missing = self._missing_foreign()
        try:
            held = self._foreign_in_broker(set(missing))
        except redis_py.RedisError as error:
            held = dict.fromkeys(missing, f"Redis unreadable: {error}")
        report.lost = [
            f"foreign job {key}: no task row; its message "
            + (f"still {held[key]} in Redis" if key in held else "is nowhere in Redis")
            + f" ({self._nearest_fault(self.foreign_sent_at[key])})"
            for key in missing
        ]
        for row in _rows(
            engine,
            "SELECT status, coalesce(error_code, left(error, 50), 'no reason') AS reason, "
            "count(*) AS n FROM tasks "
            "WHERE workflow_execution_id IS NULL AND status IN ('SUCCEEDED', 'FAILED', "
            "'CANCELLED') GROUP BY 1, 2 UNION ALL SELECT status, "
            "coalesce(split_part(error_log->>'error', ':', 1), 'error'), count(*) "
            "FROM ai_workflow_executions WHERE status IN ('completed', 'failed', 'cancelled') "
            "GROUP BY 1, 2",
        ):
            status = row.status.lower()
            if status in ("succeeded", "completed"):
                report.succeeded += row.n
            elif status == "cancelled":
                report.cancelled += row.n
            else:
                report.failed[row.reason[:60]] = report.failed.get(row.reason[:60], 0) + row.n
        report.stranded = [str(v) for v in invariants.unfinished(engine)]
        found = invariants.side_effects(engine, self.services.sink)
        report.repeated = [str(v) for v in found if v.invariant == "side_effect_repeated"]
        report.effects_lost = [str(v) for v in found if v.invariant != "side_effect_repeated"]
        report.bypassed = [str(v) for v in invariants.gates_bypassed(engine)]
        report.events_out_of_order = [str(v) for v in invariants.event_order(engine)]
        kept = recorded(engine, [message_id for message_id, _, _ in self.malformed])
        report.unrecorded = [
            f"{what} (message {m}; {self._nearest_fault(sent)})"
            for m, what, sent in self.malformed
            if m not in kept
        ]
        report.crashes = [
            f"worker {index} exited with {code}: {last_words}"
            for index, code, last_words in self.fleet.crashes
        ]
        report.completion = _completion_times(engine)
        report.slowest = _slowest_recoveries(engine, report.recoveries)
        report.failed_examples = [
            f"{row.kind} {row.id}: {row.error}"[:300]
            for row in _rows(
                engine,
                "(SELECT 'task' AS kind, id, error FROM tasks WHERE status = 'FAILED' "
                "AND workflow_execution_id IS NULL LIMIT 5) UNION ALL (SELECT 'execution', id, "
                "error_log->>'error' FROM ai_workflow_executions WHERE status = 'failed' LIMIT 5)",
            )
        ]
        stats = self.services.llm.stats.snapshot()
        report.llm_requests = int(stats["chat_completions"])
        persisted = _rows(engine, "SELECT coalesce(sum(llm_calls), 0) AS n FROM agent_runs")[0].n
        failed = _rows(
            engine, "SELECT count(*) AS n FROM ai_error_logs WHERE error_type LIKE 'llm.%'"
        )[0].n
        slots = self.options.concurrency * (report.kills + 1 + 2)  # each fault: a slot each
        report.llm_bound = int(persisted) + int(failed) + slots


def _slowest_recoveries(engine: sa.Engine, faults: list[Fault], limit: int = 3) -> list[str]:
    late = sorted(
        (f for f in faults if f.seconds is None or f.seconds >= 60),
        key=lambda f: -(f.seconds or 1e9),
    )[:limit]
    lines: list[str] = []
    shown: set[uuid.UUID] = set()
    for fault in late:
        took = "never" if fault.seconds is None else f"{fault.seconds:.0f} s"
        for item in [i for i in fault.last_stuck if i not in shown][:2]:
            shown.add(item)
            rows = _rows(
                engine,
                "SELECT 'task' AS kind, status::text, attempts, hand_backs, created_at, "
                f"finished_at, workflow_step AS step FROM tasks WHERE id = '{item}' "
                "UNION ALL SELECT 'execution', status::text, NULL, NULL, started_at, "
                f"completed_at, current_step FROM ai_workflow_executions WHERE id = '{item}'",
            )
            what = ", ".join(
                f"{r.kind} {r.status} step {r.step} attempts {r.attempts} hand-backs "
                f"{r.hand_backs} created {r.created_at:%H:%M:%S} finished "
                f"{r.finished_at and f'{r.finished_at:%H:%M:%S}'}"
                for r in rows
            )
            lines.append(f"{fault.name} ({took}): {item}: {what}")
    return lines


def _foreign_key_of(raw: bytes, *, unacked: bool) -> str | None:
    """The idempotency key in a kombu Redis message (a queue entry, or an unacked one:
    ``[message, exchange, routing key]``), or None for any other message."""
    try:
        message = json.loads(raw)
        if unacked:
            message = message[0]
        if message.get("headers", {}).get("task") != "agents.run_task":
            return None
        body = message["body"]
        if message.get("properties", {}).get("body_encoding") == "base64":
            body = base64.b64decode(body)
        _args, kwargs, _embed = json.loads(body)
        key = kwargs.get("idempotency_key")
        return key if isinstance(key, str) else None
    except (ValueError, TypeError, KeyError, IndexError, AttributeError):
        return None


def _open_work(engine: sa.Engine) -> int:
    return int(
        _rows(
            engine,
            "SELECT (SELECT count(*) FROM tasks WHERE status IN ('PENDING', 'RUNNING')) + "
            "(SELECT count(*) FROM ai_workflow_executions WHERE status IN "
            "('pending', 'running')) + (SELECT count(*) FROM approvals WHERE status = "
            "'pending') AS n",
        )[0].n
    )


def _completion_times(engine: sa.Engine) -> dict[str, tuple[float, float]]:
    times: dict[str, tuple[float, float]] = {}
    for label, sql in (
        (
            "tasks",
            "SELECT extract(epoch FROM finished_at - created_at) FROM tasks "
            "WHERE workflow_execution_id IS NULL AND finished_at IS NOT NULL",
        ),
        (
            "workflows",
            "SELECT extract(epoch FROM completed_at - started_at) FROM ai_workflow_executions "
            "WHERE completed_at IS NOT NULL",
        ),
    ):
        values = sorted(float(r[0]) for r in _rows(engine, sql))
        if values:
            times[label] = (_percentile(values, 0.5), _percentile(values, 0.95))
    return times


def _percentile(values: list[float], share: float) -> float:
    return values[min(len(values) - 1, int(share * len(values)))]


def _rows(engine: sa.Engine, sql: str) -> list[sa.Row[Any]]:
    with engine.connect() as connection:
        return list(connection.execute(sa.text(sql)).all())
