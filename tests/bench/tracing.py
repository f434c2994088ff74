"""(b) with tracing on against off, in the same run (issue 16): our worker processes run the
same agent tasks once as deployed (tracing off) and once tracing every task to an in-memory
exporter (tests/bench/traced_worker.py), alternately off, on, on, off so that the machine's
drift weighs on both alike; the ratio of their throughputs should stay at 0.95 or more."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from dataclasses import dataclass, field

from tests.bench.scenarios.agent_runs import run_agents
from tests.bench.scenarios.context import Context
from tests.bench.scenarios.result import RunResult

#: Tracing on may cost this much of (b)'s throughput at most.
TARGET_RATIO = 0.95
#: Off and on, in this order: each kind runs as often early as late.
ORDER = (False, True, True, False)


@dataclass
class TracingBench:
    tasks: int
    concurrency: int
    processes: int
    off: list[RunResult] = field(default_factory=list)
    on: list[RunResult] = field(default_factory=list)

    @property
    def off_per_second(self) -> float:
        return statistics.fmean(r.per_second for r in self.off)

    @property
    def on_per_second(self) -> float:
        return statistics.fmean(r.per_second for r in self.on)

    @property
    def ratio(self) -> float:
        return self.on_per_second / self.off_per_second

    @property
    def spans_per_task(self) -> float:
        spans = sum(r.profile.get("spans") or 0 for r in self.on)
        return spans / (self.tasks * len(self.on))

    def worker_cpu_ms_per_task(self, runs: list[RunResult]) -> float | None:
        """The worker processes' CPU per task (their own, not the database's)."""
        spent = [r.cpu_seconds.get("worker") for r in runs]
        if any(s is None for s in spent):
            return None
        return sum(s for s in spent if s is not None) * 1000 / (self.tasks * len(runs))

    @property
    def passed(self) -> bool:
        return self.ratio >= TARGET_RATIO and self.spans_per_task > 0

    def as_json(self) -> dict[str, object]:
        return {
            "tasks": self.tasks,
            "concurrency": self.concurrency,
            "processes": self.processes,
            "off_runs_per_second": [round(r.per_second, 2) for r in self.off],
            "on_runs_per_second": [round(r.per_second, 2) for r in self.on],
            "ratio": round(self.ratio, 3),
            "target": TARGET_RATIO,
            "spans_per_task": round(self.spans_per_task, 1),
            "worker_cpu_ms_per_task": {
                "off": _rounded(self.worker_cpu_ms_per_task(self.off)),
                "on": _rounded(self.worker_cpu_ms_per_task(self.on)),
            },
            "runs": [r.as_json() for r in (*self.off, *self.on)],
            "passed": self.passed,
        }


def run_tracing(
    ctx: Context,
    *,
    tasks: int,
    concurrency: int,
    processes: int,
    say: Callable[[str], None],
) -> TracingBench:
    result = TracingBench(tasks, concurrency, processes)
    for number, traced in enumerate(ORDER, 1):
        label = "on" if traced else "off"
        say(f"(tracing) (b) with tracing {label}: {tasks} tasks, LLM 0 ms")
        run = run_agents(
            ctx,
            f"tracing-{number}-{label}",
            tasks=tasks,
            concurrency=concurrency,
            latency_ms=0,
            processes=processes,
            traced=traced,
        )
        (result.on if traced else result.off).append(run)
        spans = f", {run.profile['spans']} spans" if traced else ""
        say(f"   {run.per_second:.1f} runs/s{spans}")
    return result


def tracing_section(result: TracingBench) -> list[str]:
    verdict = "ok" if result.passed else "BELOW TARGET"
    return [
        "",
        f"(tracing) scenario (b) with tracing on (in-memory exporter) against off, "
        f"{result.tasks} tasks a run, concurrency {result.concurrency} over "
        f"{result.processes} process(es), runs off/on/on/off:",
        "  off: " + ", ".join(f"{r.per_second:.1f}" for r in result.off) + " runs/s",
        "  on:  " + ", ".join(f"{r.per_second:.1f}" for r in result.on) + " runs/s"
        f" ({result.spans_per_task:.1f} spans a task)",
        f"  worker CPU a task: off {_ms(result.worker_cpu_ms_per_task(result.off))}, "
        f"on {_ms(result.worker_cpu_ms_per_task(result.on))}",
        f"  ratio on/off {result.ratio:.3f} (target >= {TARGET_RATIO}): {verdict}",
    ]


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} ms"
