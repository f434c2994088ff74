"""(ratelimit) A provider limited to 60 requests a minute, two worker processes (issue 15).

The local LLM server refuses (429) any request beyond ``limit`` in a sliding window of 60 s,
as a provider does; the tenant's ai_models row says so (``config.requests_per_minute``), and
the workers pace their calls to it through the broker's Redis, together. Every attempt's start
and status come from the database (``ai_performance_metrics``, one row per attempt); the
refusals also from the server. Steady state is after the provider's first full window (a
window that is not yet full cannot refuse); the share of the limit used is the accepted calls
there against the limit's rate. Targets: no 429 at steady state, a share of at least 0.9.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tests.bench.procs import (
    BenchError,
    LLMServerProcess,
    logs_tail,
    per_process,
    wait_until_ready,
    worker_processes,
)
from tests.bench.scenarios.agent_runs import _submit
from tests.bench.scenarios.context import AGENT_TOOLS, Context, worker_env
from tests.bench.scenarios.measure import wait_done
from tests.bench.services import unique
from tests.support.agents import add_agent, ensure_tenant
from worker.app import create_app
from worker.dev.services import start_worker_process

WINDOW = 60.0
TARGET_REFUSED = 0
TARGET_SHARE = 0.9


@dataclass(frozen=True)
class RateLimitBench:
    limit: int
    tasks: int
    processes: int
    threads: int
    latency_ms: float
    seconds: float
    attempts: int
    accepted: int
    refused_by_server: int
    refused_steady: int
    steady_seconds: float
    steady_accepted: int
    most_in_a_window: int
    deferred_runs: int
    rate_limit_share: float
    attempt_starts: list[float] = field(repr=False, default_factory=list)

    @property
    def share_used(self) -> float | None:
        """Accepted calls at steady state against the limit's rate."""
        if self.steady_seconds <= 0:
            return None
        return self.steady_accepted / (self.limit * self.steady_seconds / WINDOW)

    @property
    def passed(self) -> bool:
        share = self.share_used
        return self.refused_steady <= TARGET_REFUSED and share is not None and share >= TARGET_SHARE

    def as_json(self) -> dict[str, Any]:
        share = self.share_used
        return {
            "limit_requests_per_minute": self.limit,
            "tasks": self.tasks,
            "processes": self.processes,
            "threads_per_process": self.threads,
            "llm_latency_ms": self.latency_ms,
            "seconds": round(self.seconds, 2),
            "attempts": self.attempts,
            "accepted": self.accepted,
            "refused_by_server": self.refused_by_server,
            "refused_at_steady_state": self.refused_steady,
            "steady_state_seconds": round(self.steady_seconds, 2),
            "accepted_at_steady_state": self.steady_accepted,
            "most_accepted_in_any_60s_window": self.most_in_a_window,
            "share_of_limit_used": None if share is None else round(share, 4),
            "deferred_runs": self.deferred_runs,
            "llm_rate_limit_share": self.rate_limit_share,
            "targets": {"refused_at_steady_state": TARGET_REFUSED, "share": TARGET_SHARE},
            "passed": self.passed,
        }


def ratelimit_section(result: RateLimitBench) -> list[str]:
    share = result.share_used
    shown = "n/a (the run ended within the first window)" if share is None else f"{share:.3f}"
    verdict = "met" if result.passed else "MISSED"
    return [
        "",
        f"(ratelimit) a provider limited to {result.limit} requests a minute (the local LLM "
        f"server refuses beyond it), {result.processes} worker processes x {result.threads} "
        f"threads, {result.tasks} tasks (2 LLM calls each, {result.latency_ms:g} ms), "
        f"paced to {result.rate_limit_share:g} of the limit through Redis:",
        f"  {result.attempts} attempts in {result.seconds:.1f}s: {result.accepted} accepted, "
        f"{result.refused_by_server} refused with 429 (server's count); "
        f"{result.deferred_runs} runs deferred",
        f"  steady state ({result.steady_seconds:.1f}s after the first window): "
        f"{result.refused_steady} refused (target {TARGET_REFUSED}), "
        f"{result.steady_accepted} accepted = {shown} of the limit (target >= {TARGET_SHARE}); "
        f"most accepted in any {WINDOW:g}s window: {result.most_in_a_window}  [{verdict}]",
    ]


def _post(root: str, path: str, body: object) -> Any:
    request = urllib.request.Request(root + path, data=json.dumps(body).encode(), method="POST")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def _get(root: str, path: str) -> Any:
    with urllib.request.urlopen(root + path, timeout=5) as response:
        return json.loads(response.read())


def _add_limited_provider(ctx: Context, tenant: str, base_url: str, limit: int) -> None:
    tenant_id = ensure_tenant(ctx.database.engine, tenant)
    with ctx.database.engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO ai_models (tenant_id, name, provider, model, base_url, "
                "usage_type, is_active, config) VALUES (:tenant, 'bench-limited', 'openai', "
                "'model-bench-limited', :base_url, 'general', true, CAST(:config AS jsonb))"
            ),
            {
                "tenant": tenant_id,
                "base_url": base_url,
                "config": json.dumps({"requests_per_minute": limit}),
            },
        )


def _attempts(ctx: Context, tenant: str) -> list[tuple[float, int | None]]:
    """(start, status) of every chat attempt of the tenant, in order."""
    with ctx.database.engine.connect() as connection:
        rows = connection.execute(
            sa.text(
                "SELECT m.measurement_timestamp AS at, "
                "(m.measurement_context->>'status_code')::int AS status "
                "FROM ai_performance_metrics m JOIN tenants t ON t.id = m.tenant_id "
                "WHERE t.slug = :slug AND m.metric_name = 'llm.chat.latency_ms' "
                "ORDER BY m.measurement_timestamp"
            ),
            {"slug": tenant},
        ).all()
    return [(_epoch(row.at), row.status) for row in rows]


def _epoch(value: datetime) -> float:
    return value.timestamp()


def _deferred_runs(ctx: Context, tenant: str) -> int:
    with ctx.database.engine.connect() as connection:
        return int(
            connection.execute(
                sa.text(
                    "SELECT count(*) FROM event_logs e JOIN tenants t ON t.id = e.tenant_id "
                    "WHERE t.slug = :slug AND e.data->>'reason' = 'retry_after'"
                ),
                {"slug": tenant},
            ).scalar_one()
        )


def _finished(ctx: Context, tenant: str) -> int:
    with ctx.database.engine.connect() as connection:
        return int(
            connection.execute(
                sa.text(
                    "SELECT count(*) AS bench_probe FROM tasks k JOIN tenants t "
                    "ON t.id = k.tenant_id WHERE t.slug = :slug "
                    "AND k.status IN ('SUCCEEDED', 'FAILED', 'CANCELLED')"
                ),
                {"slug": tenant},
            ).scalar_one()
        )


def _not_succeeded(ctx: Context, tenant: str) -> int:
    with ctx.database.engine.connect() as connection:
        return int(
            connection.execute(
                sa.text(
                    "SELECT count(*) AS bench_probe FROM tasks k JOIN tenants t "
                    "ON t.id = k.tenant_id WHERE t.slug = :slug AND k.status <> 'SUCCEEDED'"
                ),
                {"slug": tenant},
            ).scalar_one()
        )


def _most_in_a_window(starts: list[float]) -> int:
    most, first = 0, 0
    for last, at in enumerate(starts):
        while starts[first] <= at - WINDOW:
            first += 1
        most = max(most, last - first + 1)
    return most


def run_ratelimit(
    ctx: Context,
    *,
    tasks: int,
    processes: int = 2,
    threads: int = 4,
    limit: int = 60,
    latency_ms: float = 100,
    share: float = 0.97,
    say: Callable[[str], None] = print,
) -> RateLimitBench:
    """``share``: the workers' ``AGENTWORKER_LLM_RATE_LIMIT_SHARE`` (0.97 is its default)."""
    tenant = unique("bench-ratelimit")
    add_agent(ctx.database.engine, "bench-agent", tools=AGENT_TOOLS, tenant=tenant)
    app = create_app(ctx.broker.url)
    try:
        with LLMServerProcess(ctx.logs / "ratelimit-llm.log", latency_ms=latency_ms) as llm:
            _post(
                llm.root,
                "/_rate_limit",
                {"model": "*", "requests": limit, "per_seconds": WINDOW, "retry_after": [1, 2]},
            )
            _add_limited_provider(ctx, tenant, llm.base_url, limit)
            _submit(ctx, app, tenant, "bench-agent", tasks)
            env = worker_env(ctx, llm.base_url, per_process(threads * processes, processes))
            env["AGENTWORKER_LLM_RATE_LIMIT_SHARE"] = f"{share:g}"

            def start(hostname: str, log_path: Path) -> subprocess.Popen[bytes]:
                return start_worker_process(env, log_path, concurrency=threads, hostname=hostname)

            with worker_processes(
                start, count=processes, logs=ctx.logs, name="ratelimit", prefix="agentworker"
            ) as workers:
                wait_until_ready(app, workers)
                began = time.monotonic()
                wait_done(
                    lambda: _finished(ctx, tenant),
                    tasks,
                    workers,
                    what="ratelimit (agent tasks at 60 requests a minute)",
                    stall_seconds=90,
                )
                seconds = time.monotonic() - began
                refused = int(_get(llm.root, "/_rate_limit")["refused"])
                failed = _not_succeeded(ctx, tenant)
                if failed:
                    raise BenchError(
                        f"ratelimit: {failed}/{tasks} tasks did not succeed\n" + logs_tail(workers)
                    )
    finally:
        app.close()
    ctx.broker.flush()
    attempts = _attempts(ctx, tenant)
    if not attempts:
        raise BenchError("ratelimit: no LLM attempt was recorded")
    first = attempts[0][0]
    accepted = [at for at, status in attempts if status is None]
    steady_from = first + WINDOW
    steady = [at for at in accepted if at >= steady_from]
    steady_seconds = (steady[-1] - steady_from) if steady else 0.0
    result = RateLimitBench(
        limit=limit,
        tasks=tasks,
        processes=processes,
        threads=threads,
        latency_ms=latency_ms,
        seconds=seconds,
        attempts=len(attempts),
        accepted=len(accepted),
        refused_by_server=refused,
        refused_steady=sum(1 for at, s in attempts if s == 429 and at >= steady_from),
        steady_seconds=steady_seconds,
        steady_accepted=max(0, len(steady) - 1),  # calls between the first and the last
        most_in_a_window=_most_in_a_window(accepted),
        deferred_runs=_deferred_runs(ctx, tenant),
        rate_limit_share=share,
        attempt_starts=[at - first for at in accepted],
    )
    say(
        f"   {result.accepted} accepted, {result.refused_by_server} refused; steady state "
        f"{result.steady_seconds:.0f}s: {result.refused_steady} refused, share "
        f"{result.share_used if result.share_used is not None else float('nan'):.3f}"
    )
    return result


@dataclass(frozen=True)
class OnlyRateLimit:
    """``--only ratelimit``: the machine and the rate limit's figures."""

    meta: dict[str, object]
    ratelimit: RateLimitBench

    def render(self) -> str:
        meta = self.meta
        head = [
            f"agentworker benchmark, rate limits only ({meta['mode']} run, {meta['started_at']})",
            f"  machine: {meta['cpus']} CPUs, {meta['platform']}, Python {meta['python']}",
            f"  PostgreSQL {meta['postgres']} ({meta['postgres_origin']}), "
            f"Redis {meta['redis']} ({meta['redis_origin']})",
        ]
        return "\n".join(head + ratelimit_section(self.ratelimit)) + "\n"

    def as_json(self) -> dict[str, object]:
        return {"meta": self.meta, "ratelimit": self.ratelimit.as_json()}


#: Tasks of a run: two calls each at a little under 60 a minute, so about 3 minutes (a quick
#: run: about 80 s, one window and a little steady state).
DEFAULT_TASKS = 85
QUICK_TASKS = 40
