"""What one benchmark run gives back: its throughput, CPU, memory and Redis figures, the
Little's-law bound when its tasks wait, and the same figures as JSON for the report."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class RunResult:
    name: str
    kind: str  # "bare", "agent" or "workflow"
    tasks: int
    concurrency: int  # the total over every worker process: processes x threads each
    seconds: float
    llm_calls_per_task: int
    latency_ms: float
    peak_rss_mib: float | None  # the sum over the worker processes
    cpu_seconds: dict[str, float | None]  # "worker": the sum over the worker processes
    redis_commands: dict[str, int]
    profile: dict[str, Any] = field(default_factory=dict)
    processes: int = 1
    peak_rss_each_mib: list[float | None] = field(default_factory=list)

    @property
    def concurrency_per_process(self) -> int:
        return self.concurrency // self.processes

    @property
    def per_second(self) -> float:
        return self.tasks / self.seconds if self.seconds > 0 else 0.0

    @property
    def bound(self) -> float | None:
        """Little's law: concurrency / time each task must wait, when it waits at all."""
        wait = self.llm_calls_per_task * self.latency_ms / 1000
        return self.concurrency / wait if wait > 0 else None

    def as_json(self) -> dict[str, Any]:
        bound = self.bound
        return {
            "name": self.name,
            "kind": self.kind,
            "tasks": self.tasks,
            "concurrency": self.concurrency,
            "processes": self.processes,
            "concurrency_per_process": self.concurrency_per_process,
            "seconds": round(self.seconds, 4),
            "tasks_per_second": round(self.per_second, 2),
            "llm_calls_per_task": self.llm_calls_per_task,
            "llm_latency_ms": self.latency_ms,
            "bound_tasks_per_second": bound,
            "of_bound": round(self.per_second / bound, 4) if bound else None,
            "peak_rss_mib": None if self.peak_rss_mib is None else round(self.peak_rss_mib, 1),
            "peak_rss_per_process_mib": [
                None if rss is None else round(rss, 1) for rss in self.peak_rss_each_mib
            ],
            "cpu_share_of_one_cpu": {
                name: None if spent is None or self.seconds <= 0 else round(spent / self.seconds, 3)
                for name, spent in self.cpu_seconds.items()
            },
            "cpu_ms_per_task": {
                name: None if spent is None else round(spent * 1000 / self.tasks, 3)
                for name, spent in self.cpu_seconds.items()
            },
            "redis_commands_per_task": {
                name: round(count / self.tasks, 3) for name, count in self.redis_commands.items()
            },
            "profile": self.profile,
        }
