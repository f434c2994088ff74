"""Every figure of one bench run, the ratios between runs, and whether each target was met."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tests.bench.scenarios.result import RunResult
from tests.bench.workflows.results import WorkflowResults

if TYPE_CHECKING:
    from tests.bench.api.scenario import ApiResults

TARGET_CPU_BOUND = 0.25  # (b) / (a): agent tasks/s over bare no-op tasks/s, LLM at 0 ms
TARGET_IO_BOUND = 0.9  # (c): agent tasks/s over bare sleeping tasks/s, LLM at 500 ms


@dataclass
class Results:
    meta: dict[str, Any]
    noop: RunResult
    ceiling: RunResult  # (b0): bare Celery + the openai SDK, (b)'s LLM calls and nothing else
    agent: RunResult
    io_bare: RunResult
    io_agent: RunResult
    workflows: WorkflowResults
    api: ApiResults | None = None  # the HTTP API's figures (tests/bench/api/)

    def ratios(self) -> dict[str, dict[str, Any]]:
        """The targets, and (b0)'s ratios (no target: they say where (b)'s ceiling is)."""
        cpu = self.agent.per_second / self.noop.per_second
        ceiling = self.ceiling.per_second / self.noop.per_second
        of_ceiling = self.agent.per_second / self.ceiling.per_second
        io = self.io_agent.per_second / self.io_bare.per_second
        return {
            "b_over_a": {"ratio": round(cpu, 4), "target": TARGET_CPU_BOUND},
            "b0_over_a": {"ratio": round(ceiling, 4), "target": None},
            "b_over_b0": {"ratio": round(of_ceiling, 4), "target": None},
            "c_agent_over_bare": {"ratio": round(io, 4), "target": TARGET_IO_BOUND},
        }

    def passed(self) -> dict[str, bool]:
        passed = {
            name: r["ratio"] >= r["target"]
            for name, r in self.ratios().items()
            if r["target"] is not None
        }
        targets = self.workflows.targets()
        return passed | {f"workflows.{name}": bool(t["pass"]) for name, t in targets.items()}

    def as_json(self) -> dict[str, Any]:
        ratios = self.ratios()
        for name, ok in self.passed().items():
            if name in ratios:
                ratios[name]["pass"] = ok
        return {
            "meta": self.meta,
            "runs": {
                "a_bare_noop": self.noop.as_json(),
                "b0_bare_openai_llm_0ms": self.ceiling.as_json(),
                "b_agent_llm_0ms": self.agent.as_json(),
                "c_bare_sleep": self.io_bare.as_json(),
                "c_agent_llm_latency": self.io_agent.as_json(),
            },
            "ratios": ratios,
            "workflows": self.workflows.as_json(self.agent),
            "api": self.api.as_json() if self.api is not None else None,
        }
