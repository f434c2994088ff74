"""The report: tables on stdout, the same figures as JSON."""

from __future__ import annotations

import os
import textwrap
from dataclasses import dataclass
from typing import Any

from tests.bench.scenarios import RunResult
from tests.bench.workflows import (
    HEADLINE,
    INTERVALS,
    MODES,
    TARGET_MODE,
    TARGET_RESOLVE_P50_MS,
    WorkflowResults,
)

TARGET_CPU_BOUND = 0.25  # (b) / (a): agent tasks/s over bare no-op tasks/s, LLM at 0 ms
TARGET_IO_BOUND = 0.9  # (c): agent tasks/s over bare sleeping tasks/s, LLM at 500 ms
CPUS = os.cpu_count() or 1


@dataclass
class Results:
    meta: dict[str, Any]
    noop: RunResult
    ceiling: RunResult  # (b0): bare Celery + the openai SDK, (b)'s LLM calls and nothing else
    agent: RunResult
    io_bare: RunResult
    io_agent: RunResult
    workflows: WorkflowResults

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
        }


def _table(headers: list[str], rows: list[list[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True))
        return indent + "  ".join([first, *rest]).rstrip()

    return [line(headers), indent + "  ".join("-" * w for w in widths), *map(line, rows)]


def _f(value: float | None, digits: int = 1, suffix: str = "") -> str:
    return "-" if value is None else f"{value:,.{digits}f}{suffix}"


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _cpu_rows(runs: list[RunResult]) -> list[list[str]]:
    names = list(dict.fromkeys(name for run in runs for name in run.cpu_seconds))
    rows = []
    for name in names:
        cells = [name]
        for run in runs:
            spent = run.cpu_seconds.get(name)
            cells.append(_f(None if spent is None else spent * 1000 / run.tasks, 2))
        rows.append(cells)
    totals = ["total"]
    for run in runs:
        known = [s for s in run.cpu_seconds.values() if s is not None]
        totals.append(_f(sum(known) * 1000 / run.tasks, 2))
    rows.append(totals)
    return rows


def _cpu_total_ms(run: RunResult) -> float:
    return sum(s for s in run.cpu_seconds.values() if s is not None) * 1000 / run.tasks


def _workers(run: RunResult) -> str:
    """Processes x threads each: "2 x 16"."""
    return f"{run.processes} x {run.concurrency_per_process}"


def _processes(count: int) -> str:
    return f"{count} process" + ("" if count == 1 else "es")


def _rss(run: RunResult) -> str:
    """ "2 processes, 95 + 93 MiB = 188 MiB"; one process: "1 process, 95 MiB"."""
    each = run.peak_rss_each_mib or [run.peak_rss_mib]
    if len(each) == 1:
        return f"{_processes(1)}, {_f(each[0], 0, ' MiB')}"
    parts = " + ".join(_f(rss, 0) for rss in each)
    return f"{_processes(len(each))}, {parts} MiB = {_f(run.peak_rss_mib, 0, ' MiB')}"


def render(results: Results) -> str:
    meta = results.meta
    a, b0, b = results.noop, results.ceiling, results.agent
    cb, ca = results.io_bare, results.io_agent
    ratios, passed = results.ratios(), results.passed()
    out = [
        f"agentworker benchmark ({meta['mode']} run, {meta['started_at']})",
        f"  machine: {meta['cpus']} CPUs, {meta['platform']}, Python {meta['python']}",
        f"  Celery {meta['celery']}, kombu {meta['kombu']}, redis-py {meta['redis_py']}, "
        f"openai {meta['openai']}",
        f"  PostgreSQL {meta['postgres']} ({meta['postgres_origin']}), "
        f"Redis {meta['redis']} ({meta['redis_origin']})",
        f"  worker: threads pool; {_processes(b.processes)} for (b0), (b) and (c), bare Celery "
        "and ours alike, 1 for (a) and the workflows;",
        f"    DB pool {meta['db_pool_size']} + overflow {meta['db_max_overflow']} per process; "
        "local LLM server in its own process",
        "",
        "(a)/(b0)/(b) CPU-bound: LLM at 0 ms, the same total worker concurrency; "
        "workers = processes x threads each",
        "  (one process runs Python on at most one CPU, however many threads it has)",
    ]
    out += _table(
        [
            *("scenario", "workers", "tasks", "seconds", "tasks/s", "ratio vs (a)"),
            *("ratio vs (b0)", "target", "result"),
        ],
        [
            [
                "(a) bare Celery, no-op",
                _workers(a),
                str(a.tasks),
                _f(a.seconds, 3),
                _f(a.per_second),
                "1.000",
                "-",
                "-",
                "-",
            ],
            [
                "(b0) bare Celery + openai SDK, 2 LLM calls",
                _workers(b0),
                str(b0.tasks),
                _f(b0.seconds, 3),
                _f(b0.per_second),
                _f(ratios["b0_over_a"]["ratio"], 3),
                "1.000",
                "-",
                "-",
            ],
            [
                "(b) agent, 2 LLM calls + 1 tool",
                _workers(b),
                str(b.tasks),
                _f(b.seconds, 3),
                _f(b.per_second),
                _f(ratios["b_over_a"]["ratio"], 3),
                _f(ratios["b_over_b0"]["ratio"], 3),
                _f(TARGET_CPU_BOUND, 2),
                _verdict(passed["b_over_a"]),
            ],
        ],
    )
    out += [
        "  (b0): (b)'s two chat completions (tool offered, tool call, tool result, text answer) "
        "through one shared",
        "  openai.OpenAI client per process, in bare Celery with no database: the ceiling "
        "Celery and the SDK alone put on (b),",
        f"  which reaches {ratios['b_over_b0']['ratio']:.0%} of it",
        "",
        f"(c) I/O-bound: LLM at {ca.latency_ms:g} ms, {ca.llm_calls_per_task} calls per task, "
        f"concurrency {ca.concurrency} ({_processes(ca.processes)} x "
        f"{ca.concurrency_per_process} threads, bare and agent alike);",
        "  bound = concurrency / (calls x latency)",
    ]
    out += _table(
        [
            *("scenario", "workers", "tasks", "seconds", "tasks/s", "bound", "of bound"),
            *("ratio vs bare", "target", "result", "peak RSS, sum"),
        ],
        [
            [
                f"bare Celery, sleeps {cb.llm_calls_per_task} x {cb.latency_ms:g} ms",
                _workers(cb),
                str(cb.tasks),
                _f(cb.seconds, 3),
                _f(cb.per_second),
                _f(cb.bound, 0),
                _f(cb.per_second / (cb.bound or 1), 3),
                "1.000",
                "-",
                "-",
                _f(cb.peak_rss_mib, 0, " MiB"),
            ],
            [
                "agent, 2 LLM calls + 1 tool",
                _workers(ca),
                str(ca.tasks),
                _f(ca.seconds, 3),
                _f(ca.per_second),
                _f(ca.bound, 0),
                _f(ca.per_second / (ca.bound or 1), 3),
                _f(ratios["c_agent_over_bare"]["ratio"], 3),
                _f(TARGET_IO_BOUND, 2),
                _verdict(passed["c_agent_over_bare"]),
                _f(ca.peak_rss_mib, 0, " MiB"),
            ],
        ],
    )
    out += ["  worker peak RSS: each worker process's VmHWM, read just before it was stopped"]
    out += [
        f"    {label:<28}{_rss(run)}"
        for label, run in (
            ("(a) bare, no-op:", a),
            ("(b0) bare + openai SDK:", b0),
            ("(b) agent:", b),
            ("(c) bare, sleeps:", cb),
            ("(c) agent:", ca),
        )
    ]
    out.append("")
    out += _profile(a, b0, b, ca)
    out += ["", *_workflows(results.workflows, b)]
    return "\n".join(out) + "\n"


def _profile(a: RunResult, b0: RunResult, b: RunResult, c: RunResult) -> list[str]:
    p = b.profile
    counters = p["database_counters_per_task"]
    rows = p["rows_per_task"]
    out = [
        f"Profile of (b), per task ({b.tasks} tasks at concurrency {b.concurrency}: "
        f"{_processes(b.processes)} x {b.concurrency_per_process} threads)"
    ]
    statements = p["statements"]
    if statements:
        db_line = (
            f"{statements['statements_per_task']:.2f} statements besides BEGIN/COMMIT "
            f"({statements['commits_per_task']:.2f} COMMITs), "
            f"{statements['exec_ms_per_task']:.2f} ms of statement execution"
        )
    else:
        db_line = f"statements not counted: {p['statements_note']}"
    out += [
        f"  database:   {counters.get('xact_commit', 0):.2f} transactions (xact_commit), "
        f"{counters.get('xact_rollback', 0):.2f} rollbacks; {db_line}",
        f"              rows: {rows['agent_runs']:.2f} agent run, {rows['event_logs']:.2f} "
        f"events, {rows['metrics']:.2f} metrics, {rows['action_logs']:.2f} action logs; "
        f"{counters.get('tup_inserted', 0):.1f} tuples inserted, "
        f"{counters.get('tup_updated', 0):.1f} updated; "
        f"{p['database_sessions_opened']} connections opened by the worker",
        *textwrap.wrap(
            "per table: "
            + _tables_line(p["tables_per_task"])
            + " (ins/upd: rows inserted/updated; HOT: updates that wrote no index entry; "
            "idx/seq: index/sequential scans)",
            width=110,
            initial_indent=" " * 14,
            subsequent_indent=" " * 16,
        ),
        f"  LLM server: {p['llm_requests_per_task']:.2f} chat requests "
        f"(agent_runs.llm_calls: {rows['llm_calls_recorded']:.2f}); "
        f"(b0): {b0.profile.get('llm_requests_per_task', 0):.2f}",
        "  Redis:      "
        + _redis_line(b)
        + f"; (a) bare: {sum(a.redis_commands.values()) / a.tasks:.1f}, of which its "
        "completion marker 4-5",
        "",
        "  CPU per task (ms), first task start to last completion; at 100% of every CPU the",
        "  machine allows at most CPUs x 1000 / total tasks/s; worker: the sum over its processes",
    ]
    out += _table(
        ["process", "(a) bare", "(b0) bare+SDK", "(b) agent", "(c) agent"],
        _cpu_rows([a, b0, b, c]),
        indent="    ",
    )
    out.append(
        f"    capacity at this CPU cost: (a) {_capacity(a)} tasks/s, (b0) {_capacity(b0)} "
        f"tasks/s, (b) {_capacity(b)} tasks/s, (c) {_capacity(c)} tasks/s;"
    )
    out.append(
        f"    measured (a) {a.per_second:.0f}, (b0) {b0.per_second:.0f}, (b) {b.per_second:.0f}, "
        f"(c) {c.per_second:.0f}"
    )
    for label, run in (("(b0)", b0), ("(b)", b), ("(c)", c)):
        out.append(f"    {label} busy, share of one CPU: {_busy(run)}")
    t = p["timeline_ms"]
    if t.get("total") is not None:
        out += [
            "",
            "  Wall time of one task (avg ms, from the events' transaction timestamps):",
            f"    claim -> run started            {_f(t['claim_to_run_started'])}",
            f"    -> LLM call 1 persisted         {_f(t['to_llm_call_1_persisted'])}",
            f"    -> tool result persisted        {_f(t['to_tool_result_persisted'])}",
            f"    -> LLM call 2 persisted         {_f(t['to_llm_call_2_persisted'])}",
            f"    -> task finished                {_f(t['to_finished'])}",
            f"    = claim to finish               {_f(t['total'])}",
            f"    LLM HTTP as the worker timed it: {_f(t['llm_http_ms_per_call'])} ms per call "
            "(x2); the server answers at once, so the rest is waiting for the worker's GIL",
            f"    slot time per task (concurrency / throughput): {_f(p['slot_ms_per_task'])} ms, "
            f"so on average {b.per_second * t['total'] / 1000:.1f} of {b.concurrency} slots were",
            "    between claim and finish; the others were in Celery (receive, ack, events) or "
            "idle,",
            "    waiting for the consumer thread to deliver their next message",
        ]
    if statements:
        out += ["", "  Top statements (calls per task, mean ms, share of statement time):"]
        for row in statements["top"]:
            query = row["query"]
            query = query if len(query) <= 88 else query[:87] + "…"
            out.append(
                f"    {row['calls_per_task']:5.2f}  {row['mean_ms']:6.3f}  "
                f"{row['share_of_exec_time']:5.1%}  {query}"
            )
    return out


def _tables_line(tables: dict[str, dict[str, float]]) -> str:
    """Writes (and how many updates were HOT), index scans, and any sequential scans."""
    parts = []
    busiest = sorted(tables.items(), key=lambda kv: -(kv[1]["n_tup_ins"] + kv[1]["n_tup_upd"]))
    for table, c in busiest:
        if max(c.values()) < 0.05:
            continue
        text = f"{table} {c['n_tup_ins']:.0f} ins"
        if c["n_tup_upd"]:
            text += f" {c['n_tup_upd']:.0f} upd ({c['n_tup_hot_upd']:.1f} HOT)"
        text += f" {c['idx_scan']:.0f} idx"
        if c["seq_scan"] >= 0.05:
            text += f" {c['seq_scan']:.1f} seq ({c['seq_tup_read']:,.0f} rows)"
        parts.append(text)
    return "; ".join(parts) or "-"


def _busy(run: RunResult) -> str:
    return ", ".join(
        f"{name} {spent / run.seconds:.0%}"
        for name, spent in run.cpu_seconds.items()
        if spent is not None and run.seconds > 0
    )


def _capacity(run: RunResult) -> str:
    total = _cpu_total_ms(run)
    return _f(CPUS * 1000 / total, 0) if total else "-"


def _redis_line(run: RunResult) -> str:
    total = sum(run.redis_commands.values()) / run.tasks
    top = ", ".join(
        f"{name} {count / run.tasks:.1f}" for name, count in list(run.redis_commands.items())[:6]
    )
    return f"{total:.1f} commands ({top})"


def _workflows(w: WorkflowResults, b: RunResult) -> list[str]:
    resolve, waiting, steps = w.resolve, w.waiting, w.steps
    targets = w.targets()
    batches = resolve.batches
    approvals = next(iter(batches.values())).approvals
    out = [
        f"Workflows: same broker and database, worker concurrency {resolve.concurrency}, "
        "local LLM at 0 ms",
        "",
        "(w1) approval resolved -> next step starts: workflow [approval gate, agent step] "
        "(preceded by a condition step",
        "  that always holds: a gate as the first step fails, the engine moves the new "
        "execution PENDING ->",
        "  AWAITING_APPROVAL, which worker/durable/states.py does not allow). "
        f"{approvals} approvals per mode, resolved one by one",
        "  through AgentWorkerClient.resolve_approval while the worker runs:",
        *(
            f"    {mode}: {MODES[mode]}"
            + (
                f" ({batch.approvals / batch.seconds:.0f} resolves/s)"
                if mode not in ("idle", "paced") and batch.seconds
                else ""
            )
            for mode, batch in batches.items()
        ),
        "  Database timestamps are transaction start times (now()), one clock; 'resolve call "
        "start' is the driver's",
        "  clock (the same machine's)",
    ]
    rows = []
    for key, label in INTERVALS:
        cells = [label]
        for batch in batches.values():
            figures = batch.summary[key]
            cells += [_f(figures["p50"]), _f(figures["p95"])]
        rows.append(cells)
    headers = ["ms"]
    for mode in batches:
        headers += [f"{mode} p50", "p95"]
    out += _table(headers, rows, indent="    ")
    headline = targets["resolve_p50_ms"]
    out.append(
        f"  target: {dict(INTERVALS)[HEADLINE]}, {TARGET_MODE} p50 < {TARGET_RESOLVE_P50_MS:g} "
        f"ms: {_f(headline['value'])} ms {_verdict(headline['pass'])} (max per mode in the JSON)"
    )

    j = waiting.as_json()
    slots = targets["slots_held_while_waiting"]
    listed = j["approvals_list"]
    cli = listed["cli_process_ms"]
    rows_line = ", ".join(
        f"{table} {value:.2f}" for table, value in j["rows_per_execution_by_table"].items()
    )
    bytes_line = ", ".join(
        f"{table} {value:,.0f}" for table, value in j["bytes_per_execution_by_table"].items()
    )
    lead = j["of_which_lead_condition_step"]
    lead_line = ", ".join(f"{table} {value:.2f}" for table, value in lead.items())
    cpu = j["slots"]["worker_cpu_share_of_one_cpu"]
    out += [
        "",
        f"(w2) {waiting.executions:,} executions waiting on approvals (all awaiting_approval "
        f"{waiting.start_seconds:.1f} s after the first start; {waiting.approvers} eligible "
        "approver)",
        f"  worker slots held: {_f(slots['value'], 0)} (target 0: {_verdict(slots['pass'])}): "
        f"worker active tasks {_f(waiting.worker_active_max, 0)}, reserved "
        f"{_f(waiting.worker_reserved_max, 0)}",
        f"    (max of {waiting.slot_samples} inspect() samples), tasks RUNNING in the database "
        f"{waiting.running_tasks}, task rows of these executions {waiting.tasks_of_these}; "
        f"worker CPU meanwhile {_f(None if cpu is None else cpu * 100, 1)}% of one CPU",
        *textwrap.wrap(
            f"rows per waiting execution: {j['rows_per_execution']:.2f} ({rows_line}); of "
            f"which the leading condition step: {sum(lead.values()):.2f} ({lead_line})",
            width=110,
            initial_indent="  ",
            subsequent_indent="    ",
        ),
        *textwrap.wrap(
            f"bytes per waiting execution: {j['bytes_per_execution']:,.0f} ({bytes_line}); "
            "pg_total_relation_size deltas (heap, indexes, TOAST, dead row versions not yet "
            "vacuumed) / executions",
            width=110,
            initial_indent="  ",
            subsequent_indent="    ",
        ),
        f"  approvals list at {waiting.executions:,} pending, limit 100 ({listed['rows']} rows): "
        f"list_approvals in-process median {listed['in_process_ms']['median']:.1f} ms "
        f"(min {listed['in_process_ms']['min']:.1f}, p95 {listed['in_process_ms']['p95']:.1f}, "
        f"{listed['calls']} calls)",
        f"    of which statement execution {_f(listed['statement_exec_ms'], 2)} ms "
        "(pg_stat_statements); target < 200 ms: "
        f"{_verdict(targets['approvals_list_ms']['pass'])}",
        f"  agentworker approvals list --tenant X --json, whole process: median "
        f"{cli['median']:,.0f} ms over {len(cli['runs'])} runs ({cli['rows']} rows); "
        f"start-up alone (agentworker --help) {cli['startup_median_ms']:,.0f} ms",
    ]

    run = steps.run
    p = run.profile
    ratio = steps.executions_per_second / b.per_second
    step_ratio = steps.steps_per_second / b.per_second
    out += [
        "",
        f"(w3) {steps.steps}-step workflow, each step the agent of (b) (2 LLM calls + 1 tool), "
        f"LLM at 0 ms, concurrency {run.concurrency} in {_processes(run.processes)}",
    ]
    if b.processes != run.processes:
        out.append(
            f"  (b) ran in {_processes(b.processes)} x {b.concurrency_per_process} threads: "
            "the ratios below set one process against several"
        )
    out += _table(
        ["scenario", "count", "seconds", "per second", "ratio vs (b) tasks/s", "ideal"],
        [
            [
                "(b) agent tasks",
                str(b.tasks),
                _f(b.seconds, 3),
                _f(b.per_second),
                "1.000",
                "-",
            ],
            [
                f"(w3) workflow executions ({steps.steps} agent steps)",
                str(run.tasks),
                _f(run.seconds, 3),
                _f(steps.executions_per_second),
                _f(ratio, 3),
                _f(1 / steps.steps, 3),
            ],
            [
                "(w3) agent steps",
                str(run.tasks * steps.steps),
                _f(run.seconds, 3),
                _f(steps.steps_per_second),
                _f(step_ratio, 3),
                "1.000",
            ],
        ],
    )
    worker_cpu = run.cpu_seconds.get("worker")
    b_worker = b.cpu_seconds.get("worker")
    counters = p["database_counters_per_execution"]
    statements = p["statements"]
    statements_line = (
        f"{statements['statements_per_task']:.1f} statements ({statements['exec_ms_per_task']:.1f}"
        " ms of statement execution)"
        if statements
        else f"statements not counted: {p['statements_note']}"
    )
    t = p["step_timeline_ms"]
    out += [
        "  ideal: executions/s = (b) tasks/s / steps if advancing a workflow cost nothing",
        f"  per execution: {p['agent_tasks_per_execution']:.2f} agent tasks, "
        f"{p['llm_requests_per_execution']:.2f} LLM requests, "
        f"{counters.get('xact_commit', 0):.1f} transactions, {statements_line}; "
        f"avg {_f(p['execution_ms_avg'], 0)} ms first step to completion",
        "  worker CPU per agent step: "
        + (
            f"{worker_cpu * 1000 / (run.tasks * steps.steps):.1f} ms"
            if worker_cpu is not None
            else "-"
        )
        + " (advances included); (b) per task: "
        + (f"{b_worker * 1000 / b.tasks:.1f} ms" if b_worker is not None else "-")
        + f"; busy, share of one CPU: {_busy(run)}",
        "  per step (avg ms, every execution started at once, so mostly queueing): advance "
        f"made the task -> claimed {_f(t['advance_to_claim'])}, "
        f"claimed -> task finished {_f(t['claim_to_task_finished'])}, "
        f"task finished -> step recorded by the next advance "
        f"{_f(t['task_finished_to_step_done'])}",
        f"  Redis: {_redis_line(run)} per execution; peak RSS {_f(run.peak_rss_mib, 0, ' MiB')}",
    ]
    return out
