"""(D): many runs waiting at once. 2,000 runs, each two LLM calls of 2 s, at concurrency 400
(2 worker processes x 200 threads), beside bare Celery whose tasks sleep the same, in one run.

Little's law bounds both at concurrency / (calls x latency) = 100 runs/s; the target is 0.9 of
it (issue 15). What it attacks that (c) does not: 200 threads in one process waiting on HTTP
at once, and the bursts when their replies come back together, against one shared database
pool per process (``AGENTWORKER_DB_POOL_SIZE`` + overflow, 20 + 20 as deployed).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.bench.scenarios.agent_runs import run_agents
from tests.bench.scenarios.bare_runs import run_bare
from tests.bench.scenarios.context import Context
from tests.bench.scenarios.result import RunResult

TARGET_OF_BOUND = 0.9
TASKS = 2000
QUICK_TASKS = 400
CONCURRENCY = 400
LATENCY_MS = 2000.0


@dataclass(frozen=True)
class WideBench:
    bare: RunResult
    agent: RunResult

    @property
    def of_bound(self) -> float:
        bound = self.agent.bound
        return self.agent.per_second / bound if bound else 0.0

    @property
    def passed(self) -> bool:
        return self.of_bound >= TARGET_OF_BOUND

    def as_json(self) -> dict[str, Any]:
        return {
            "bare": self.bare.as_json(),
            "agent": self.agent.as_json(),
            "agent_of_bound": round(self.of_bound, 4),
            "target_of_bound": TARGET_OF_BOUND,
            "passed": self.passed,
        }


def run_wide(ctx: Context, *, tasks: int, processes: int, say: Callable[[str], None]) -> WideBench:
    split = f"{CONCURRENCY} = {processes} processes x {CONCURRENCY // processes} threads"
    say(f"(D) bare Celery: {tasks} tasks sleeping 2 x {LATENCY_MS:g} ms, concurrency {split}")
    bare = run_bare(
        ctx,
        "d-bare-sleep",
        tasks=tasks,
        concurrency=CONCURRENCY,
        processes=processes,
        sleep_ms=LATENCY_MS,
        sleeps=2,
    )
    say(f"   {bare.per_second:.1f} tasks/s")
    say(f"(D) agent: {tasks} runs, LLM {LATENCY_MS:g} ms per call, concurrency {split}")
    agent = run_agents(
        ctx,
        "d-agent",
        tasks=tasks,
        concurrency=CONCURRENCY,
        latency_ms=LATENCY_MS,
        processes=processes,
    )
    say(f"   {agent.per_second:.1f} runs/s")
    return WideBench(bare, agent)


def wide_section(result: WideBench) -> list[str]:
    def row(label: str, run: RunResult) -> str:
        bound = run.bound or 0.0
        rss = " + ".join(f"{mib:.0f}" for mib in run.peak_rss_each_mib if mib is not None)
        spent = [run.cpu_seconds.get(name) for name in ("worker", "postgres backends")]
        cpu = " + ".join("-" if s is None else f"{s * 1000 / run.tasks:.1f}" for s in spent)
        return (
            f"  {label:<34} {run.tasks:>6} {run.seconds:>8.2f} {run.per_second:>8.1f} "
            f"{bound:>6.0f} {run.per_second / bound if bound else 0:>9.3f} {cpu:>20} {rss:>14}"
        )

    verdict = "met" if result.passed else "MISSED"
    agent = result.agent
    return [
        "",
        f"(D) many runs waiting at once: LLM {agent.latency_ms:g} ms per call, 2 calls per run, "
        f"concurrency {agent.concurrency} ({agent.processes} processes x "
        f"{agent.concurrency_per_process} threads)",
        f"  {'scenario':<34} {'tasks':>6} {'seconds':>8} {'per s':>8} {'bound':>6} "
        f"{'of bound':>9} {'CPU ms: worker + PG':>20} {'RSS MiB':>14}",
        row("bare Celery, sleeps 2 x 2 s", result.bare),
        row("agent, 2 LLM calls + 1 tool", agent),
        f"  agent / bare: {agent.per_second / max(result.bare.per_second, 1e-9):.3f}; "
        f"target: agent >= {TARGET_OF_BOUND:g} of the bound: {result.of_bound:.3f} {verdict}",
    ]


@dataclass(frozen=True)
class OnlyWide:
    """``--only wide``: the machine and (D)'s figures."""

    meta: dict[str, object]
    wide: WideBench

    def render(self) -> str:
        meta = self.meta
        head = [
            f"agentworker benchmark, (D) only ({meta['mode']} run, {meta['started_at']})",
            f"  machine: {meta['cpus']} CPUs, {meta['platform']}, Python {meta['python']}",
            f"  PostgreSQL {meta['postgres']} ({meta['postgres_origin']})",
        ]
        return "\n".join(head + wide_section(self.wide)) + "\n"

    def as_json(self) -> dict[str, object]:
        return {"meta": self.meta, "wide": self.wide.as_json()}
