"""``python -m tests.bench``: every scenario in one run, against one broker and one database."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

from tests.bench import wide
from tests.bench.api.report import api_section
from tests.bench.api.scenario import ApiResults, run_api
from tests.bench.fairness import QUICK_FAIRNESS, FairnessPlan, OnlyFairness, run_fairness
from tests.bench.longrun import STEPS, OnlyLongRun, run_longrun
from tests.bench.memory import TASKS as MEMORY_TASKS
from tests.bench.memory import MemoryResults, run_memory
from tests.bench.metrics_scrape import ScrapeBench, run_scrape_bench, scrape_section
from tests.bench.peers.scenarios import run_dbos, run_langgraph
from tests.bench.procs import BenchError, per_process
from tests.bench.ratelimit import DEFAULT_TASKS, QUICK_TASKS, OnlyRateLimit, run_ratelimit
from tests.bench.report.peers import PeerResults, peers_section
from tests.bench.report.results import Results
from tests.bench.report.text import render
from tests.bench.retention import RetentionBench, retention_section, run_retention_bench
from tests.bench.scenarios.agent_runs import run_agents
from tests.bench.scenarios.bare_runs import run_bare, run_bare_llm
from tests.bench.scenarios.context import Context
from tests.bench.scenarios.result import RunResult
from tests.bench.services import broker, database
from tests.bench.tracing import TracingBench, run_tracing, tracing_section
from tests.bench.wide import OnlyWide, WideBench, run_wide, wide_section
from tests.bench.workflows.approvals import run_approvals
from tests.bench.workflows.results import HEADLINE, MODES, WorkflowResults
from tests.bench.workflows.steps import run_steps
from worker.dev.services import temporary_directory


@dataclass(frozen=True)
class Plan:
    mode: str
    noop_tasks: int
    agent_tasks: int
    concurrency: int
    io_tasks: int
    io_concurrency: int
    processes: int
    latency_ms: float
    approvals: int
    waiting: int
    workflow_executions: int
    api_submissions: int = 1000
    api_followers: int = 100
    api_events: int = 2000
    retention_rows: int = 1_000_000
    scrape_events: int = 10_000_000


DEFAULT = Plan("default", 2000, 500, 32, 1000, 100, 2, 500, 200, 2000, 100)
QUICK = Plan(
    "quick",
    300,
    100,
    32,
    200,
    50,
    2,
    500,
    50,
    200,
    30,
    200,
    100,
    300,
    retention_rows=100_000,
    scrape_events=1_000_000,
)
#: ``--only`` runs one part of the bench alone.
PARTS = (
    "api",
    "retention",
    "scrape",
    "peers",
    "wide",
    "fairness",
    "ratelimit",
    "longrun",
    "memory",
    "tracing",
)


def _positive(raw: str) -> int:
    value = int(raw)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number above 0, got {raw}")
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench",
        description="Throughput of agentworker's worker against bare Celery, in one run "
        "(DESIGN §7). Starts embedded PostgreSQL and Redis unless DATABASE_URL / REDIS_URL "
        "are set.",
    )
    parser.add_argument("--quick", action="store_true", help="small task counts: a smoke run")
    parser.add_argument("--json", metavar="PATH", help="also write the figures as JSON here")
    parser.add_argument("--noop-tasks", type=_positive, help="(a) bare no-op tasks [2000]")
    parser.add_argument(
        "--agent-tasks", type=_positive, help="(b0) and (b) tasks, LLM at 0 ms [500]"
    )
    parser.add_argument(
        "--concurrency", type=_positive, help="total worker concurrency of (a), (b0), (b) [32]"
    )
    parser.add_argument("--io-tasks", type=_positive, help="(c) tasks of each kind [1000]")
    parser.add_argument(
        "--io-concurrency", type=_positive, help="total worker concurrency of (c) [100]"
    )
    parser.add_argument(
        "--processes",
        type=_positive,
        help="worker processes for (b0), (b) and (c), each with concurrency/N threads; bare "
        "Celery runs with the same split [2]",
    )
    parser.add_argument("--latency-ms", type=float, help="(c) LLM latency per call [500]")
    parser.add_argument(
        "--approvals",
        type=_positive,
        help="(w1) approvals resolved in each mode: idle, paced, back to back [200]",
    )
    parser.add_argument(
        "--waiting", type=_positive, help="(w2) executions waiting on approvals [2000]"
    )
    parser.add_argument(
        "--workflow-executions", type=_positive, help="(w3) 3-step workflow executions [100]"
    )
    parser.add_argument(
        "--api-submissions",
        type=_positive,
        help="(api) submissions through the API and through the client, at each concurrency [1000]",
    )
    parser.add_argument(
        "--api-followers", type=_positive, help="(api) SSE followers of one task [100]"
    )
    parser.add_argument(
        "--api-events", type=_positive, help="(api) events appended to the followed task [2000]"
    )
    parser.add_argument(
        "--retention-rows",
        type=_positive,
        help="(retention) old events deleted while a writer appends [1000000]",
    )
    parser.add_argument(
        "--scrape-events",
        type=_positive,
        help="(scrape) event rows (and their history) under a metrics scrape [10000000]",
    )
    parser.add_argument(
        "--only",
        choices=PARTS,
        help="run only this part (api: the HTTP API's figures; retention: deleting old events; "
        "scrape: /metrics over a long history; "
        "peers: (B) and (C) for bare Celery, ours, DBOS and LangGraph; wide: (D), 2,000 runs "
        "of 2 x 2 s LLM calls at concurrency 400, beside bare Celery; fairness: one "
        "tenant's burst against another's few tasks; longrun: (E), a 200-step run's step cost; "
        "memory: a worker process's RSS, idle and after agent tasks; tracing: (b) with "
        "tracing on against off)",
    )
    parser.add_argument(
        "--no-peers",
        action="store_true",
        help="skip the peers (DBOS, LangGraph), whose venvs are installed from PyPI on first use",
    )
    parser.add_argument(
        "--ratelimit-tasks",
        type=_positive,
        help=f"(ratelimit, with --only ratelimit) tasks against a provider limited to 60 "
        f"requests a minute, 2 worker processes [{DEFAULT_TASKS}; quick {QUICK_TASKS}]",
    )
    parser.add_argument(
        "--ratelimit-share",
        type=float,
        default=0.97,
        help="(ratelimit) the workers' AGENTWORKER_LLM_RATE_LIMIT_SHARE [0.97, the default]",
    )
    parser.add_argument(
        "--db-pool-size", type=_positive, default=20, help="AGENTWORKER_DB_POOL_SIZE"
    )
    parser.add_argument(
        "--db-max-overflow", type=int, default=20, help="AGENTWORKER_DB_MAX_OVERFLOW"
    )
    parser.add_argument(
        "--redis-db", type=int, default=13, help="the database number used when REDIS_URL is set"
    )
    parser.add_argument(
        "--no-statements", action="store_true", help="do not preload pg_stat_statements"
    )
    parser.add_argument("--logs", metavar="DIR", help="keep the worker and LLM server logs here")
    parser.add_argument(
        "--check", action="store_true", help="exit with status 1 when a target is missed"
    )
    return parser.parse_args(argv)


def plan_of(args: argparse.Namespace) -> Plan:
    base = QUICK if args.quick else DEFAULT
    return Plan(
        base.mode,
        args.noop_tasks or base.noop_tasks,
        args.agent_tasks or base.agent_tasks,
        args.concurrency or base.concurrency,
        args.io_tasks or base.io_tasks,
        args.io_concurrency or base.io_concurrency,
        args.processes or base.processes,
        args.latency_ms if args.latency_ms is not None else base.latency_ms,
        args.approvals or base.approvals,
        args.waiting or base.waiting,
        args.workflow_executions or base.workflow_executions,
        args.api_submissions or base.api_submissions,
        args.api_followers or base.api_followers,
        args.api_events or base.api_events,
        args.retention_rows or base.retention_rows,
        args.scrape_events or base.scrape_events,
    )


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _split(concurrency: int, processes: int) -> str:
    """E.g. "32 = 2 processes x 16 threads"; a total that does not divide says what it became."""
    if processes == 1:
        return str(concurrency)
    threads = per_process(concurrency, processes)
    split = f"{processes} processes x {threads} threads"
    if threads * processes == concurrency:
        return f"{concurrency} = {split}"
    return f"{concurrency} requested, {split} = {threads * processes}"


def _done(result: RunResult, started: float) -> None:
    _say(
        f"   {result.tasks} tasks in {result.seconds:.3f}s = {result.per_second:.1f} tasks/s "
        f"({time.monotonic() - started:.0f}s with set-up)"
    )


def _versions() -> dict[str, str]:
    import celery
    import kombu
    import openai
    import redis

    return {
        "celery": celery.__version__,
        "kombu": kombu.__version__,
        "redis_py": redis.__version__,
        "openai": openai.__version__,
    }


@contextlib.contextmanager
def _terminate_cleanly() -> Iterator[None]:
    """SIGTERM (e.g. make interrupted) unwinds like Ctrl-C, so every server is stopped."""

    def handler(signum: int, _: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def bench(
    args: argparse.Namespace, plan: Plan, tmp: Path
) -> (
    Results
    | OnlyApi
    | OnlyRetention
    | OnlyScrape
    | OnlyPeers
    | OnlyFairness
    | OnlyRateLimit
    | OnlyLongRun
    | OnlyWide
    | OnlyTracing
    | MemoryResults
):
    logs = Path(args.logs).resolve() if args.logs else tmp / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    meta: dict[str, object] = {
        "mode": plan.mode,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "platform": platform.platform(terse=True),
        "python": platform.python_version(),
        **_versions(),
        "plan": plan.__dict__,
        "db_pool_size": args.db_pool_size,
        "db_max_overflow": args.db_max_overflow,
    }
    _say(f"starting services in {tmp} ...")
    with (
        database(tmp, statements=not args.no_statements) as db,
        broker(tmp, redis_db=args.redis_db) as redis_broker,
    ):
        meta |= {
            "postgres": db.version,
            "postgres_origin": db.origin
            + (", pg_stat_statements" if db.statements else ", no pg_stat_statements"),
            "redis": redis_broker.version,
            "redis_origin": redis_broker.origin,
        }
        ctx = Context(db, redis_broker, logs, args.db_pool_size, args.db_max_overflow)
        if args.only == "api":
            api = bench_api(ctx, plan)
            _say("stopping services ...")
            return OnlyApi(meta, api)
        if args.only == "retention":
            retention = bench_retention(ctx, plan)
            _say("stopping services ...")
            return OnlyRetention(meta, retention)
        if args.only == "scrape":
            scrape = bench_scrape(ctx, plan)
            _say("stopping services ...")
            return OnlyScrape(meta, scrape)
        if args.only == "fairness":
            fair_plan = QUICK_FAIRNESS if args.quick else FairnessPlan()
            fairness = run_fairness(ctx, fair_plan, _say)
            _say("stopping services ...")
            return OnlyFairness(meta, fairness)
        if args.only == "ratelimit":
            tasks = args.ratelimit_tasks or (QUICK_TASKS if args.quick else DEFAULT_TASKS)
            _say(f"(ratelimit) {tasks} tasks against a provider limited to 60 requests a minute")
            ratelimit = run_ratelimit(ctx, tasks=tasks, share=args.ratelimit_share, say=_say)
            _say("stopping services ...")
            return OnlyRateLimit(meta, ratelimit)
        if args.only == "longrun":
            longrun = run_longrun(ctx, steps=STEPS, say=_say)
            _say("stopping services ...")
            return OnlyLongRun(meta, longrun)
        if args.only == "memory":
            memory = run_memory(ctx, tasks=50 if args.quick else MEMORY_TASKS, say=_say)
            _say("stopping services ...")
            return memory
        if args.only == "peers":
            peers = bench_peers(ctx, plan)
            _say("stopping services ...")
            return OnlyPeers(meta, peers)
        if args.only == "wide":
            wide = bench_wide(ctx, plan, args.quick)
            _say("stopping services ...")
            return OnlyWide(meta, wide)
        if args.only == "tracing":
            traced = bench_tracing(ctx, plan)
            _say("stopping services ...")
            return OnlyTracing(meta, traced)

        started = time.monotonic()
        _say(f"(a) bare Celery: {plan.noop_tasks} no-op tasks at concurrency {plan.concurrency}")
        noop = run_bare(ctx, "a-bare-noop", tasks=plan.noop_tasks, concurrency=plan.concurrency)
        _done(noop, started)

        cpu_split = _split(plan.concurrency, plan.processes)
        started = time.monotonic()
        _say(
            f"(b0) bare Celery + openai SDK: {plan.agent_tasks} tasks, 2 LLM calls each, "
            f"LLM 0 ms, concurrency {cpu_split}"
        )
        ceiling = run_bare_llm(
            ctx,
            "b0-bare-openai",
            tasks=plan.agent_tasks,
            concurrency=plan.concurrency,
            processes=plan.processes,
        )
        _done(ceiling, started)

        started = time.monotonic()
        _say(f"(b) agent: {plan.agent_tasks} tasks, LLM 0 ms, concurrency {cpu_split}")
        agent = run_agents(
            ctx,
            "b-agent",
            tasks=plan.agent_tasks,
            concurrency=plan.concurrency,
            latency_ms=0,
            processes=plan.processes,
        )
        _done(agent, started)

        io_split = _split(plan.io_concurrency, plan.processes)
        started = time.monotonic()
        _say(
            f"(c) bare Celery: {plan.io_tasks} tasks sleeping 2 x {plan.latency_ms:g} ms, "
            f"concurrency {io_split}"
        )
        io_bare = run_bare(
            ctx,
            "c-bare-sleep",
            tasks=plan.io_tasks,
            concurrency=plan.io_concurrency,
            processes=plan.processes,
            sleep_ms=plan.latency_ms,
            sleeps=2,
        )
        _done(io_bare, started)

        started = time.monotonic()
        _say(
            f"(c) agent: {plan.io_tasks} tasks, LLM {plan.latency_ms:g} ms, concurrency {io_split}"
        )
        io_agent = run_agents(
            ctx,
            "c-agent",
            tasks=plan.io_tasks,
            concurrency=plan.io_concurrency,
            latency_ms=plan.latency_ms,
            processes=plan.processes,
        )
        _done(io_agent, started)
        if not args.no_peers:
            meta["peers"] = bench_peer_runs(ctx, plan, ceiling, agent, io_bare, io_agent)
        meta["wide"] = bench_wide(ctx, plan, args.quick)
        meta["tracing"] = bench_tracing(ctx, plan)

        workflows = bench_workflows(ctx, plan, agent)
        api = bench_api(ctx, plan)
        meta["retention"] = bench_retention(ctx, plan)
        meta["scrape"] = bench_scrape(ctx, plan)
        _say("stopping services ...")
    return Results(meta, noop, ceiling, agent, io_bare, io_agent, workflows, api)


@dataclass(frozen=True)
class OnlyPeers:
    """``--only peers``: (B) and (C) for bare Celery, ours and the peers, in one run."""

    meta: dict[str, object]
    peers: PeerResults

    def render(self) -> str:
        meta = self.meta
        head = [
            f"agentworker benchmark, peers ({meta['mode']} run, {meta['started_at']})",
            f"  machine: {meta['cpus']} CPUs, {meta['platform']}, Python {meta['python']}",
            f"  PostgreSQL {meta['postgres']} ({meta['postgres_origin']}), "
            f"Redis {meta['redis']} ({meta['redis_origin']})",
            f"  ours: Celery {meta['celery']}, openai {meta['openai']}; peers: "
            + ", ".join(f"{k} {v}" for k, v in peer_versions().items()),
            "",
        ]
        return "\n".join(head + peers_section(self.peers)) + "\n"

    def as_json(self) -> dict[str, object]:
        return {"meta": self.meta | {"peers": peer_versions()}, "peers": self.peers.as_json()}


def peer_versions() -> dict[str, str]:
    """The pins each peer's venv was installed from."""
    from tests.bench.peers import venvs

    pins: dict[str, str] = {}
    for peer in ("dbos", "langgraph"):
        for line in venvs.requirements(peer).read_text().splitlines():
            if "==" in line and not line.startswith("#"):
                name, _, version = line.partition("==")
                pins.setdefault(name.split("[")[0], version)
    return pins


def bench_peers(ctx: Context, plan: Plan) -> PeerResults:
    """``--only peers``: (B) for bare Celery + SDK, ours and the peers back to back, then (C)
    likewise, so that the systems of one scenario share the machine's load of the moment."""
    processes = plan.processes
    _say(f"(B) bare Celery + openai SDK: {plan.agent_tasks} tasks, LLM 0 ms")
    b0 = run_bare_llm(
        ctx,
        "b0-bare-openai",
        tasks=plan.agent_tasks,
        concurrency=plan.concurrency,
        processes=processes,
    )
    _say(f"   {b0.per_second:.1f} runs/s")
    _say(f"(B) agentworker: {plan.agent_tasks} tasks, LLM 0 ms")
    b = run_agents(
        ctx,
        "b-agent",
        tasks=plan.agent_tasks,
        concurrency=plan.concurrency,
        latency_ms=0,
        processes=processes,
    )
    _say(f"   {b.per_second:.1f} runs/s")
    results = PeerResults({"bare": b0, "agentworker": b}, {})
    results.b |= _peer_runs(ctx, plan, io=False)
    _say(f"(C) bare Celery: {plan.io_tasks} tasks sleeping 2 x {plan.latency_ms:g} ms")
    results.c["bare"] = run_bare(
        ctx,
        "c-bare-sleep",
        tasks=plan.io_tasks,
        concurrency=plan.io_concurrency,
        processes=processes,
        sleep_ms=plan.latency_ms,
        sleeps=2,
    )
    _say(f"   {results.c['bare'].per_second:.1f} runs/s")
    _say(f"(C) agentworker: {plan.io_tasks} tasks, LLM {plan.latency_ms:g} ms")
    results.c["agentworker"] = run_agents(
        ctx,
        "c-agent",
        tasks=plan.io_tasks,
        concurrency=plan.io_concurrency,
        latency_ms=plan.latency_ms,
        processes=processes,
    )
    _say(f"   {results.c['agentworker'].per_second:.1f} runs/s")
    results.c |= _peer_runs(ctx, plan, io=True)
    return results


def bench_peer_runs(
    ctx: Context, plan: Plan, b0: RunResult, b: RunResult, cb: RunResult, ca: RunResult
) -> PeerResults:
    """DBOS and LangGraph on (B) and (C), set beside the runs of ours and bare Celery given."""
    return PeerResults(
        {"bare": b0, "agentworker": b} | _peer_runs(ctx, plan, io=False),
        {"bare": cb, "agentworker": ca} | _peer_runs(ctx, plan, io=True),
    )


def _peer_runs(ctx: Context, plan: Plan, *, io: bool) -> dict[str, RunResult]:
    """(B) (``io`` false: LLM at 0 ms) or (C) for each peer."""
    runs, concurrency = (
        (plan.io_tasks, plan.io_concurrency) if io else (plan.agent_tasks, plan.concurrency)
    )
    latency, label = (plan.latency_ms, "C") if io else (0.0, "B")
    results = {}
    for peer, run in (("dbos", run_dbos), ("langgraph", run_langgraph)):
        started = time.monotonic()
        _say(f"({label}) {peer}: {runs} runs, LLM {latency:g} ms, concurrency {concurrency}")
        results[peer] = run(
            ctx,
            f"{label}-{peer}",
            runs=runs,
            concurrency=concurrency,
            processes=plan.processes,
            latency_ms=latency,
            say=_say,
        )
        _done(results[peer], started)
    return results


@dataclass(frozen=True)
class OnlyApi:
    """``--only api``: the machine and the API's figures."""

    meta: dict[str, object]
    api: ApiResults

    def render(self) -> str:
        meta = self.meta
        head = [
            f"agentworker benchmark, API only ({meta['mode']} run, {meta['started_at']})",
            f"  machine: {meta['cpus']} CPUs, {meta['platform']}, Python {meta['python']}",
            f"  PostgreSQL {meta['postgres']} ({meta['postgres_origin']}), "
            f"Redis {meta['redis']} ({meta['redis_origin']})",
        ]
        return "\n".join(head + api_section(self.api)) + "\n"

    def as_json(self) -> dict[str, object]:
        return {"meta": self.meta, "api": self.api.as_json()}


@dataclass(frozen=True)
class OnlyRetention:
    """``--only retention``: the machine and retention's figures."""

    meta: dict[str, object]
    retention: RetentionBench

    def render(self) -> str:
        meta = self.meta
        head = [
            f"agentworker benchmark, retention only ({meta['mode']} run, {meta['started_at']})",
            f"  machine: {meta['cpus']} CPUs, {meta['platform']}, Python {meta['python']}",
            f"  PostgreSQL {meta['postgres']} ({meta['postgres_origin']})",
        ]
        return "\n".join(head + retention_section(self.retention)) + "\n"

    def as_json(self) -> dict[str, object]:
        return {"meta": self.meta, "retention": self.retention.as_json()}


@dataclass(frozen=True)
class OnlyScrape:
    """``--only scrape``: the machine and the metrics scrape's figures."""

    meta: dict[str, object]
    scrape: ScrapeBench

    def render(self) -> str:
        meta = self.meta
        head = [
            f"agentworker benchmark, metrics scrape only ({meta['mode']} run, "
            f"{meta['started_at']})",
            f"  machine: {meta['cpus']} CPUs, {meta['platform']}, Python {meta['python']}",
            f"  PostgreSQL {meta['postgres']} ({meta['postgres_origin']})",
        ]
        return "\n".join(head + scrape_section(self.scrape)) + "\n"

    def as_json(self) -> dict[str, object]:
        return {"meta": self.meta, "scrape": self.scrape.as_json()}


def bench_wide(ctx: Context, plan: Plan, quick: bool) -> WideBench:
    started = time.monotonic()
    result = run_wide(
        ctx, tasks=wide.QUICK_TASKS if quick else wide.TASKS, processes=plan.processes, say=_say
    )
    _say(f"   ({time.monotonic() - started:.0f}s with set-up)")
    return result


@dataclass(frozen=True)
class OnlyTracing:
    """``--only tracing``: (b) with tracing on against off."""

    meta: dict[str, object]
    tracing: TracingBench

    def render(self) -> str:
        meta = self.meta
        head = [
            f"agentworker benchmark, tracing only ({meta['mode']} run, {meta['started_at']})",
            f"  machine: {meta['cpus']} CPUs, {meta['platform']}, Python {meta['python']}",
            f"  PostgreSQL {meta['postgres']} ({meta['postgres_origin']}), "
            f"Redis {meta['redis']} ({meta['redis_origin']})",
        ]
        return "\n".join(head + tracing_section(self.tracing)) + "\n"

    def as_json(self) -> dict[str, object]:
        return {"meta": self.meta, "tracing": self.tracing.as_json()}


def bench_tracing(ctx: Context, plan: Plan) -> TracingBench:
    started = time.monotonic()
    result = run_tracing(
        ctx,
        tasks=plan.agent_tasks,
        concurrency=plan.concurrency,
        processes=plan.processes,
        say=_say,
    )
    _say(f"   ratio on/off {result.ratio:.3f} ({time.monotonic() - started:.0f}s with set-up)")
    return result


def bench_scrape(ctx: Context, plan: Plan) -> ScrapeBench:
    started = time.monotonic()
    _say(f"(scrape) a metrics scrape over {plan.scrape_events:,} event rows and their history")
    result = run_scrape_bench(ctx, events=plan.scrape_events, say=_say)
    _say(
        f"   scrape median {result.median_ms:.0f} ms, slowest {max(result.scrape_ms):.0f} ms "
        f"({time.monotonic() - started:.0f}s with set-up)"
    )
    return result


def bench_retention(ctx: Context, plan: Plan) -> RetentionBench:
    started = time.monotonic()
    _say(
        f"(retention) {plan.retention_rows:,} old events deleted by the event_logs policy "
        "while a writer appends"
    )
    result = run_retention_bench(ctx, rows=plan.retention_rows, say=_say)
    _say(
        f"   {result.deleted:,} rows in {result.seconds:.1f}s = {result.per_second:,.0f} rows/s; "
        f"writer's longest wait {result.writer_max_ms:.1f} ms "
        f"({time.monotonic() - started:.0f}s with set-up)"
    )
    return result


def bench_api(ctx: Context, plan: Plan) -> ApiResults:
    started = time.monotonic()
    _say(
        f"(api) {plan.api_submissions} submissions through the API and the client, at "
        f"concurrency 1 and {plan.concurrency}; {plan.api_followers} SSE followers of one task, "
        f"{plan.api_events} events"
    )
    api = run_api(
        ctx,
        submissions=plan.api_submissions,
        concurrency=plan.concurrency,
        followers=plan.api_followers,
        events=plan.api_events,
        say=_say,
    )
    _say(f"   ({time.monotonic() - started:.0f}s with set-up)")
    return api


def bench_workflows(ctx: Context, plan: Plan, agent: RunResult) -> WorkflowResults:
    started = time.monotonic()
    _say(
        f"(w1) approvals: {len(MODES) * plan.approvals} executions [gate, agent step], "
        f"{plan.approvals} resolved each {', '.join(MODES)}; "
        f"(w2) {plan.waiting} executions waiting; concurrency {plan.concurrency}"
    )
    resolve, waiting = run_approvals(
        ctx, approvals=plan.approvals, waiting=plan.waiting, concurrency=plan.concurrency
    )
    for mode, batch in resolve.batches.items():
        figures = batch.summary[HEADLINE]
        _say(
            f"   (w1) {mode}: decided_at -> agent run started: p50 {figures['p50']:.1f} ms, "
            f"p95 {figures['p95']:.1f} ms"
        )
    _say(
        f"   (w2) {waiting.executions} waiting in {waiting.start_seconds:.1f}s, slots held "
        f"{waiting.slots_held}, approvals list {waiting.list_median_ms:.1f} ms "
        f"({time.monotonic() - started:.0f}s with set-up)"
    )
    started = time.monotonic()
    _say(
        f"(w3) 3-step workflow: {plan.workflow_executions} executions, LLM 0 ms, "
        f"concurrency {plan.concurrency} in {plan.processes} processes"
    )
    steps = run_steps(
        ctx,
        executions=plan.workflow_executions,
        concurrency=plan.concurrency,
        processes=plan.processes,
    )
    _say(
        f"   {steps.run.tasks} executions in {steps.run.seconds:.3f}s = "
        f"{steps.executions_per_second:.1f} executions/s, {steps.steps_per_second:.1f} steps/s; "
        f"(b) {agent.per_second:.1f} tasks/s ({time.monotonic() - started:.0f}s with set-up)"
    )
    return WorkflowResults(resolve, waiting, steps, plain_tasks_per_second=agent.per_second)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = plan_of(args)
    try:
        with _terminate_cleanly(), temporary_directory("agentworker-bench-") as tmp:
            results = bench(args, plan, tmp)
    except BenchError as error:
        _say(f"benchmark failed: {error}")
        return 2
    except KeyboardInterrupt:
        _say("benchmark interrupted; every process it started has been stopped")
        return 130
    if isinstance(
        results,
        OnlyApi
        | OnlyRetention
        | OnlyScrape
        | OnlyPeers
        | OnlyFairness
        | OnlyRateLimit
        | OnlyLongRun
        | OnlyWide
        | OnlyTracing
        | MemoryResults,
    ):
        sys.stdout.write(results.render())
    else:
        retention = results.meta.pop("retention", None)
        scrape = results.meta.pop("scrape", None)
        peers = results.meta.pop("peers", None)
        wide_runs = results.meta.pop("wide", None)
        traced = results.meta.pop("tracing", None)
        sys.stdout.write(render(results))
        if isinstance(peers, PeerResults):
            sys.stdout.write("\n" + "\n".join(peers_section(peers)) + "\n")
            results.meta["peers"] = peers.as_json()
        if isinstance(wide_runs, WideBench):
            sys.stdout.write("\n".join(wide_section(wide_runs)) + "\n")
            results.meta["wide"] = wide_runs.as_json()
        if isinstance(traced, TracingBench):
            sys.stdout.write("\n".join(tracing_section(traced)) + "\n")
            results.meta["tracing"] = traced.as_json()
        if results.api is not None:
            sys.stdout.write("\n".join(api_section(results.api)) + "\n")
        if isinstance(retention, RetentionBench):
            sys.stdout.write("\n".join(retention_section(retention)) + "\n")
            results.meta["retention"] = retention.as_json()
        if isinstance(scrape, ScrapeBench):
            sys.stdout.write("\n".join(scrape_section(scrape)) + "\n")
            results.meta["scrape"] = scrape.as_json()
    if args.json:
        Path(args.json).write_text(json.dumps(results.as_json(), indent=2, default=str) + "\n")
        _say(f"figures written to {args.json}")
    if args.check and isinstance(results, Results) and not all(results.passed().values()):
        return 1
    if args.check and isinstance(results, OnlyRetention) and not results.retention.passed:
        return 1
    if args.check and isinstance(results, OnlyScrape) and not results.scrape.passed:
        return 1
    if args.check and isinstance(results, OnlyRateLimit) and not results.ratelimit.passed:
        return 1
    if args.check and isinstance(results, OnlyLongRun) and not results.longrun.passed:
        return 1
    if args.check and isinstance(results, OnlyWide) and not results.wide.passed:
        return 1
    if args.check and isinstance(results, OnlyTracing) and not results.tracing.passed:
        return 1
    return 0
