"""How one case of the fault campaign runs (tests/e2e/test_fault_campaign.py runs several at
once, each on a database and a Redis database of its own; the cases are in
``tests.chaos.cases``).

A fault-point case kills a worker with SIGKILL at one named point (``worker.durable.faults``)
while it works on one kind of work (``tests.chaos.workload``), starts a fresh worker without
the point, lets the scripted approver decide the gates, waits until everything has ended,
and checks the invariants (``tests.support.invariants``). A thread publishes beat's schedule,
so the reaper and the expiry sweep run in the workers. For a gate kind the kill comes after
the gate: a first worker takes the work up to the gate and stops, then the doomed one is
started, the gate is decided, and the doomed worker dies at the point's first hit past it.

The other cases throw one fault at every kind of work at once: every message lost between
its row's commit and its publish, every message delivered twice, the database gone and back
mid-run, Redis restarted with messages unacked, and the LLM answering 429, 500, too slowly,
or resetting connections.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import sqlalchemy as sa

from models import db
from tests.chaos import workload as work
from tests.chaos.approver import ScriptedApprover
from tests.chaos.cases import Case, CaseResult
from tests.chaos.duplicates import Duplicator
from tests.chaos.launcher import ForkedWorker
from tests.chaos.outages import ConnectionResetProxy, database_outage, restart_redis
from tests.chaos.ticker import Ticker
from tests.support import invariants
from tests.support.sink import Sink
from tests.support.sink_tools import MODULE as SINK_TOOLS
from tests.support.sink_tools import SINK_URL_VARIABLE
from tests.support.stack import ROOT, Stack, WorkerProcess, stack_context
from worker.dev.services import EmbeddedRedis

#: The fresh worker's settings: its reaper (run every second, see ``Ticker``) takes a wake-up
#: 2 s overdue, or a task queued 3 s, as lost; a lease long enough never to lapse under load.
RECOVERY_ENV = {
    "AGENTWORKER_LEASE_SECONDS": "10",
    "AGENTWORKER_PENDING_REPUBLISH_SECONDS": "3",
    "AGENTWORKER_LOST_WAKE_SECONDS": "2",
}
#: The doomed worker's leases lapse 3 s after it dies.
DOOMED_ENV = {**RECOVERY_ENV, "AGENTWORKER_LEASE_SECONDS": "3"}
#: The recovery target: after any single fault, everything has ended within a minute.
SETTLE_SECONDS = 60.0
_worker_names = itertools.count(1)
PHASE_SECONDS = 60.0


@dataclass
class Services:
    """What the cases share: one PostgreSQL server (a clone of the migrated template per
    case) and one Redis (a database number per case)."""

    server_url: str
    template: str
    redis: EmbeddedRedis
    tmp: Path
    _clone_lock: threading.Lock = field(default_factory=threading.Lock)
    _numbers: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @contextlib.contextmanager
    def database(self) -> Iterator[str]:
        name = f"aw_fault_{uuid.uuid4().hex[:12]}"
        with self._clone_lock:  # a template may be copied by one CREATE DATABASE at a time
            _admin(
                self.server_url,
                f'CREATE DATABASE "{name}" TEMPLATE "{self.template}" STRATEGY FILE_COPY',
            )
        try:
            yield (
                db.database_url(self.server_url)
                .set(database=name)
                .render_as_string(hide_password=False)
            )
        finally:
            _admin(self.server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def broker(self) -> str:
        return self.redis.url(next(self._numbers) % self.redis.databases or 1)


def _admin(url: str, statement: str) -> None:
    engine = db.create_sync_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(sa.text(statement))
    finally:
        engine.dispose()


class Campaign:
    """Runs ``cases`` on a pool of threads, at most ``parallel`` at once; ``result`` waits for
    one."""

    def __init__(self, services: Services, selected: list[Case], parallel: int) -> None:
        self._pool = ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="case")
        self._futures: dict[str, Future[CaseResult]] = {
            case.name: self._pool.submit(run_case, case, services) for case in selected
        }

    def result(self, case: Case) -> CaseResult:
        return self._futures[case.name].result()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


# -- one case ----------------------------------------------------------------------------------


def run_case(case: Case, services: Services) -> CaseResult:
    started = time.monotonic()
    result = CaseResult(case)
    result.mark("start")
    with _case_services(case, services) as (stack, sink, own_redis, exits):
        workload = work.seed(stack.engine, (case.kind,) if case.kind else work.KINDS)
        approver = ScriptedApprover(
            stack.engine, stack.app, duplicate=case.fault == "delivered_twice"
        ).start()
        exits.callback(approver.stop)
        env = {
            "AGENTWORKER_TOOL_MODULES": SINK_TOOLS,
            SINK_URL_VARIABLE: sink.url,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        }
        try:
            if case.point is not None:
                crashes = _kill_at_point(case, stack, workload, approver, env, result)
            else:
                crashes = _throw_fault(
                    case, stack, workload, env, result, services, exits, own_redis
                )
            _settle(stack, result)
            result.mark("settled")
        except Exception as error:  # a broken step of the case is a finding, not a crash
            result.violations.append(
                f"[case] the case could not run: {type(error).__name__}: {error}"
            )
            crashes = 1
        approver.stop()
        result.notes += [f"approver: {e}"[:200] for e in approver.errors[:3]]
        result.violations += _violations(stack, sink, crashes, result)
        if result.violations:
            result.logs = _log_tails(stack.workers)
        result.mark("checked")
    result.mark("cleaned up")
    result.seconds = time.monotonic() - started
    return result


@contextlib.contextmanager
def _case_services(
    case: Case, services: Services
) -> Iterator[tuple[Stack, Sink, EmbeddedRedis | None, contextlib.ExitStack]]:
    """The case's database, Redis database (a server of its own when it is to be
    restarted), stack (LLM server, client), beat's schedule and sink; all gone afterwards,
    every worker's process group included."""
    tmp = services.tmp / case.name
    tmp.mkdir(parents=True, exist_ok=True)
    workers: list[WorkerProcess] = []
    with contextlib.ExitStack() as exits:
        exits.callback(lambda: [_kill_group(w) for w in workers])  # after the graceful stops
        database_url = exits.enter_context(services.database())
        own_redis = None
        if case.fault == "redis_restart":
            own_redis = EmbeddedRedis(tmp / "redis", persistent=True)
            exits.callback(own_redis.stop)
            broker_url = own_redis.start()
        else:
            broker_url = services.broker()
        _flush(broker_url)
        exits.callback(_flush, broker_url)
        stack = exits.enter_context(
            contextlib.contextmanager(stack_context)(database_url, broker_url, tmp)
        )
        workers = stack.workers
        exits.callback(Ticker(stack.app).start().stop)  # beat's schedule, from here
        sink = exits.enter_context(Sink())
        yield stack, sink, own_redis, exits


def _violations(stack: Stack, sink: Sink, crashes: int, result: CaseResult) -> list[str]:
    """The invariants, the case's own checks, and the last worker still alive."""
    found = invariants.check_all(
        stack.engine,
        sink,
        llm_requests=stack.llm_admin("GET", "/_stats")["by_model"],
        crashes=crashes,
    )
    problems = [str(v) for v in found]
    problems += [f"[fault] {p}" for check in result.checks if (p := check())]
    last = stack.workers[-1] if stack.workers else None
    if last is not None and last.process.poll() is not None:
        problems.append(
            f"[worker] the last worker {last.name} exited with {last.process.returncode}"
        )
    return problems


def _kill_at_point(
    case: Case,
    stack: Stack,
    workload: work.Workload,
    approver: ScriptedApprover,
    env: dict[str, str],
    result: CaseResult,
) -> int:
    assert case.kind is not None and case.point is not None
    job: work.Job | None = None
    if case.after_the_gate:
        approver.hold()
        first = start_worker(stack, {**env, **RECOVERY_ENV})
        job = workload.submit(stack.client, case.kind)
        _wait(
            lambda: _status(stack, job) == "awaiting_approval",
            PHASE_SECONDS,
            lambda: f"the work did not reach its gate: {_status(stack, job)}",
        )
        first.stop()
    doomed = start_worker(
        stack, {**env, **DOOMED_ENV, "AGENTWORKER_FAULT_POINT": case.point}, may_die=True
    )
    if job is None:
        job = workload.submit(stack.client, case.kind)
    approver.release()
    result.mark("doomed worker ready")
    if not _died(doomed, PHASE_SECONDS):
        result.violations.append(
            f"[fault] {case.point} never fired within {PHASE_SECONDS:.0f} s "
            f"(work is {_status(stack, job)}): is the point placed on this path?"
        )
        doomed.kill()
    elif doomed.process.returncode != -9:
        result.violations.append(
            f"[fault] the doomed worker exited with {doomed.process.returncode}, not SIGKILL "
            "at the fault point"
        )
    _kill_group(doomed)  # anything it started (none without --beat) goes with it
    result.mark("doomed worker died")
    result.notes.append(f"killed at {case.point} while the work was {_status(stack, job)}")
    start_worker(stack, {**env, **RECOVERY_ENV})
    result.mark("fresh worker ready")
    return 1


def _kill_group(worker: WorkerProcess) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(worker.process.pid, signal.SIGKILL)
    worker.process.poll()


def _throw_fault(
    case: Case,
    stack: Stack,
    workload: work.Workload,
    env: dict[str, str],
    result: CaseResult,
    services: Services,
    exits: contextlib.ExitStack,
    own_redis: EmbeddedRedis | None,
) -> int:
    """Start a worker, throw ``case.fault`` at every kind of work, and add to ``checks``
    what must hold once it has all ended (the fault was really thrown)."""
    fault = case.fault
    models = workload.all_models()
    worker_env = {**env, **RECOVERY_ENV}
    if fault == "llm_429":
        for model in models:
            stack.program_faults(model, *[{"status": 429, "retry_after": 0.2}] * 3)
    elif fault == "llm_500":
        for model in models:
            stack.program_faults(model, *[{"status": 500}] * 3)
    elif fault == "llm_timeout":
        worker_env["AGENTWORKER_LLM_TIMEOUT_SECONDS"] = "1"
        for model in models:
            stack.program_faults(model, *[{"delay_ms": 2500}] * 2)
    elif fault == "llm_reset":
        upstream = urlsplit(stack.llm.base_url)
        proxy = ConnectionResetProxy(upstream.hostname or "127.0.0.1", upstream.port or 80)
        proxy.start()
        exits.callback(proxy.stop)
        armed = 2 * len(models)
        proxy.arm(armed)
        worker_env["OPENAI_BASE_URL"] = f"http://127.0.0.1:{proxy.port}/v1"
        result.checks.append(
            lambda: None if proxy.resets == armed else f"only {proxy.resets}/{armed} resets"
        )
    if fault in ("llm_429", "llm_500", "llm_timeout"):
        result.checks.append(lambda: _faults_left(stack))
    if fault in ("postgres_restart", "redis_restart"):
        for model in models:  # the first call of every run thinks for a while: work in flight
            stack.program_faults(model, {"delay_ms": 1500})
    duplicator = None
    if fault == "delivered_twice":
        duplicator = Duplicator(stack.engine, stack.app).start()
        exits.callback(duplicator.stop)
    if fault == "messages_lost":  # committed, never published: the reaper must find them
        jobs = [workload.commit_only(stack.engine, kind) for kind in work.KINDS]
        start_worker(stack, worker_env, concurrency=4)
        result.notes.append(f"{len(jobs)} jobs committed and never published")
        return 0
    start_worker(stack, worker_env, concurrency=4)
    jobs = [workload.submit(stack.client, kind) for kind in work.KINDS]
    crashes = 0
    if fault in ("postgres_restart", "redis_restart"):
        _wait(
            lambda: _count(stack, "SELECT count(*) FROM tasks WHERE status = 'RUNNING'") >= 3,
            PHASE_SECONDS,
            lambda: "no work was in flight to interrupt",
        )
        if fault == "postgres_restart":
            with database_outage(services.server_url, stack.database_url):
                time.sleep(3)
            crashes = 1  # a reply in flight when the connection died was paid and not kept
        else:
            assert own_redis is not None
            restart_redis(own_redis)
        result.notes.append(f"{fault} with {len(jobs)} jobs in flight")
    if duplicator is not None:
        result.notes.append("duplicates are sent while the work runs")
    return crashes


def _faults_left(stack: Stack) -> str | None:
    pending = stack.llm_admin("GET", "/_faults")["pending"]
    return f"programmed LLM faults never reached: {pending}" if pending else None


def start_worker(
    stack: Stack, env: dict[str, str], *, concurrency: int = 2, may_die: bool = False
) -> WorkerProcess:
    """A worker for the case, forked from the fork server (``tests.chaos.launcher``); with
    ``may_die`` it may be gone before it is ready (its fault point hit at once)."""
    name = f"w{next(_worker_names)}-{uuid.uuid4().hex[:6]}@campaign"
    log_path = stack.tmp / f"{name}.log"
    args = [
        "-A",
        "worker.app",
        "worker",
        "--pool",
        "threads",
        "--concurrency",
        str(concurrency),
        "--queues",
        "agents,workflows,maintenance,celery",
        "--loglevel",
        "INFO",
        "--hostname",
        name,
        "--without-gossip",
        "--without-mingle",
    ]
    process = ForkedWorker(args, stack.worker_env(**env), log_path, ROOT)
    worker = WorkerProcess(process, name, log_path)  # type: ignore[arg-type]
    stack.workers.append(worker)
    try:
        stack.wait_ready(worker, timeout=PHASE_SECONDS)
    except AssertionError:
        if not may_die:
            raise
    return worker


def _died(worker: WorkerProcess, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker.process.poll() is not None:
            return True
        time.sleep(0.05)
    return False


def _settle(stack: Stack, result: CaseResult) -> None:
    """Wait until every task and execution has ended (the approver decides every gate)."""
    ended = _wait(
        lambda: (
            _count(
                stack,
                "SELECT (SELECT count(*) FROM tasks WHERE status NOT IN "
                "('SUCCEEDED', 'FAILED', 'CANCELLED')) + (SELECT count(*) FROM "
                "ai_workflow_executions WHERE status NOT IN ('completed', 'failed', 'cancelled'))",
            )
            == 0
        ),
        SETTLE_SECONDS,
        None,
    )
    if not ended:
        result.notes.append(f"the work had not all ended after {SETTLE_SECONDS:.0f} s")


def _wait(probe: Callable[[], bool], timeout: float, failure: Callable[[], str] | None) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(sa.exc.OperationalError):
            if probe():
                return True
        time.sleep(0.1)
    if failure is not None:
        raise AssertionError(failure())
    return False


def _status(stack: Stack, job: work.Job | None) -> str:
    if job is None:
        return "not submitted"
    table = "tasks" if job.table == "task" else "ai_workflow_executions"
    rows = stack.rows(f"SELECT status FROM {table} WHERE id = :i", i=job.id)
    return str(rows[0].status) if rows else "missing"


def _count(stack: Stack, sql: str) -> int:
    return int(stack.rows(sql)[0][0])


def _flush(broker_url: str) -> None:
    import redis

    with contextlib.suppress(redis.RedisError):
        client = redis.Redis.from_url(broker_url)
        client.flushdb()
        client.close()


def _log_tails(workers: list[WorkerProcess], chars: int = 2500) -> str:
    return "\n".join(
        f"--- {w.name} (exit {w.process.poll()}) ---\n{w.log()[-chars:]}" for w in workers
    )
