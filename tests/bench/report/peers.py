"""The peers section: (B) and (C) for bare Celery, agentworker, DBOS and LangGraph side by side,
CPU per run by process (read exactly), database work per run, RSS, and every ratio."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.bench.report.formatting import aligned_table, number, rss_cell, workers_cell
from tests.bench.scenarios.result import RunResult

OURS = "agentworker"
BARE = "bare"
PEERS = ("dbos", "langgraph")
LABELS = {
    BARE: "bare Celery + openai SDK, nothing stored",
    OURS: "agentworker",
    "dbos": "DBOS Transact (queue, 3 steps)",
    "langgraph": "LangGraph + PostgresSaver (sync)",
}
C_LABELS = LABELS | {BARE: "bare Celery, sleeps as long, nothing stored"}
CPU_ROWS = ("worker", "postgres backends", "postgres server", "redis", "llm server")
#: set-up rows, not the runs': schema versions, the queue's definition
SETUP_TABLES = {"dbos_migrations", "application_versions", "queues", "checkpoint_migrations"}


@dataclass
class PeerResults:
    b: dict[str, RunResult]  # (B) LLM at 0 ms: bare, agentworker, dbos, langgraph
    c: dict[str, RunResult]  # (C) LLM at the latency, concurrency 100

    def ratios(self) -> dict[str, float | None]:
        def best(runs: dict[str, RunResult], value: Any) -> float | None:
            peers = [value(runs[p]) for p in PEERS if p in runs]
            return max(peers) if peers else None

        def share(run: RunResult) -> float:
            return run.per_second / (run.bound or 1)

        ours_b, ours_c = self.b[OURS].per_second, share(self.c[OURS])
        best_b, best_c = best(self.b, lambda r: r.per_second), best(self.c, share)
        out: dict[str, float | None] = {
            "B_ours_over_best_peer": ours_b / best_b if best_b else None,
            "B_ours_over_bare_celery_sdk": ours_b / self.b[BARE].per_second,
            "C_ours_over_best_peer_share_of_bound": ours_c / best_c if best_c else None,
            "C_ours_over_bare_celery_sleeping": ours_c / share(self.c[BARE]),
        }
        for peer in PEERS:
            if peer in self.b:
                out[f"B_ours_over_{peer}"] = ours_b / self.b[peer].per_second
            if peer in self.c:
                out[f"C_ours_over_{peer}"] = ours_c / share(self.c[peer])
        return {k: None if v is None else round(v, 4) for k, v in out.items()}

    def as_json(self) -> dict[str, Any]:
        return {
            "B_llm_0ms": {name: run.as_json() for name, run in self.b.items()},
            "C_llm_latency": {name: run.as_json() for name, run in self.c.items()},
            "ratios": self.ratios(),
        }


def _cpu(run: RunResult, name: str) -> str:
    spent = run.cpu_seconds.get(name)
    return number(None if spent is None else spent * 1000 / run.tasks, 2)


def _cpu_total(run: RunResult) -> str:
    known = [s for n, s in run.cpu_seconds.items() if s is not None and n != "bench driver"]
    return number(sum(known) * 1000 / run.tasks, 2)


def _db(run: RunResult) -> tuple[str, str, str, str]:
    counters = run.profile.get("database_counters_per_task")
    if not counters:
        return "-", "-", "-", "-"
    statements = run.profile.get("statements")
    return (
        number(counters.get("xact_commit", 0), 1),
        "-" if not statements else number(statements["statements_per_task"], 1),
        number(counters.get("tup_inserted", 0), 1),
        number(counters.get("tup_updated", 0), 1),
    )


def _rows_line(name: str, run: RunResult) -> str:
    rows = run.profile.get("rows_per_task") or {}
    if not rows:
        return f"    {name}: nothing stored"
    check = run.profile.get("rows_check", "")
    body = ", ".join(
        f"{table} {value:g}"
        for table, value in rows.items()
        if value and table not in SETUP_TABLES and table != "llm_calls_recorded"
    )
    return f"    {name}: {body}" + (f" ({check})" if check else "")


def _table(runs: dict[str, RunResult], labels: dict[str, str], bound: bool) -> list[str]:
    headers = ["system", "workers", "runs", "seconds", "runs/s"]
    headers += ["of bound"] if bound else []
    headers += ["ours /", *(f"{n} ms" for n in ("worker", "pg back", "pg srv", "redis", "llm"))]
    headers.append("total")
    headers += ["xacts", "stmts", "tup ins", "tup upd"]
    ours = runs[OURS]
    rows = []
    for name, run in runs.items():
        value = run.per_second / (run.bound or 1) if bound else run.per_second
        mine = ours.per_second / (ours.bound or 1) if bound else ours.per_second
        cells = [labels[name], workers_cell(run), str(run.tasks), number(run.seconds, 3)]
        cells.append(number(run.per_second))
        cells += [number(value, 3)] if bound else []
        cells.append("-" if name == OURS else number(mine / value, 3))
        cells += [_cpu(run, n) for n in CPU_ROWS]
        cells += [_cpu_total(run), *_db(run)]
        rows.append(cells)
    return aligned_table(headers, rows, indent="  ")


def peers_section(p: PeerResults) -> list[str]:
    b, c = p.b, p.c
    ours_b, ours_c = b[OURS], c[OURS]
    ratios = p.ratios()
    out = [
        "Peers: the same work (2 chat completions through the openai SDK against the local LLM "
        "server, 1 tool call",
        "  between them, every step durably recorded) on the same PostgreSQL server, each peer "
        "in its own venv",
        "  (.bench-venvs/<peer>, tests/bench/peers/requirements-*.txt) and its own database; "
        "CPU ms per run read",
        "  from /proc/PID/task/*/sched (se.sum_exec_runtime), first run start to last run end; "
        "'ours /': agentworker's",
        "  runs/s (B) or share of the bound (C) over that system's; per run: xacts, stmts "
        "(pg_stat_statements,",
        "  besides BEGIN/COMMIT), tup ins/upd (pg_stat_database of that system's database); "
        "submission (our client's",
        "  inserts, DBOS's enqueue) precedes the window and is not counted; 'pg back' includes "
        "the driver's progress polls",
        "",
        f"(B) LLM at 0 ms, concurrency {ours_b.concurrency} "
        f"({ours_b.processes} x {ours_b.concurrency_per_process})",
        *_table(b, LABELS, bound=False),
        "",
        f"(C) LLM at {ours_c.latency_ms:g} ms per call, concurrency {ours_c.concurrency} "
        f"({ours_c.processes} x {ours_c.concurrency_per_process}); bound = concurrency / "
        "(2 x latency)",
        *_table(c, C_LABELS, bound=True),
        "",
        "  ratios: (B) ours / best peer "
        f"{number(ratios['B_ours_over_best_peer'], 3)} (target 1.3), ours / bare Celery + SDK "
        f"{number(ratios['B_ours_over_bare_celery_sdk'], 3)} (target 0.7);",
        "          (C) ours / best peer (share of the bound) "
        f"{number(ratios['C_ours_over_best_peer_share_of_bound'], 3)}, ours / bare Celery "
        f"sleeping {number(ratios['C_ours_over_bare_celery_sleeping'], 3)}",
        "  rows per run, by table, counted after the scenario (each run's rows checked):",
        *(_rows_line(LABELS[name], run) for name, run in b.items() if name != BARE),
        "  peak RSS per worker process (VmHWM), (B) / (C):",
        *(
            f"    {LABELS[name]:<42}{rss_cell(run)} / {rss_cell(c[name])}"
            for name, run in b.items()
            if name in c
        ),
    ]
    return out
