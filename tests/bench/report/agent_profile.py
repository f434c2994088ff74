"""(b)'s profile in the report: per task, what the database, the LLM server and Redis did, the
CPU each process spent (against (a), (b0) and (c)), one task's wall time, the top statements."""

from __future__ import annotations

import textwrap

from tests.bench.report.formatting import (
    aligned_table,
    busy_shares,
    capacity_cell,
    cpu_rows,
    number,
    process_count,
    redis_line,
    tables_line,
)
from tests.bench.scenarios.result import RunResult


def agent_profile(a: RunResult, b0: RunResult, b: RunResult, c: RunResult) -> list[str]:
    p = b.profile
    counters = p["database_counters_per_task"]
    rows = p["rows_per_task"]
    out = [
        f"Profile of (b), per task ({b.tasks} tasks at concurrency {b.concurrency}: "
        f"{process_count(b.processes)} x {b.concurrency_per_process} threads)"
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
            + tables_line(p["tables_per_task"])
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
        + redis_line(b)
        + f"; (a) bare: {sum(a.redis_commands.values()) / a.tasks:.1f}, of which its "
        "completion marker 4-5",
        "",
        "  CPU per task (ms), first task start to last completion; at 100% of every CPU the",
        "  machine allows at most CPUs x 1000 / total tasks/s; worker: the sum over its processes",
    ]
    out += aligned_table(
        ["process", "(a) bare", "(b0) bare+SDK", "(b) agent", "(c) agent"],
        cpu_rows([a, b0, b, c]),
        indent="    ",
    )
    out.append(
        f"    capacity at this CPU cost: (a) {capacity_cell(a)} tasks/s, (b0) {capacity_cell(b0)} "
        f"tasks/s, (b) {capacity_cell(b)} tasks/s, (c) {capacity_cell(c)} tasks/s;"
    )
    out.append(
        f"    measured (a) {a.per_second:.0f}, (b0) {b0.per_second:.0f}, (b) {b.per_second:.0f}, "
        f"(c) {c.per_second:.0f}"
    )
    for label, run in (("(b0)", b0), ("(b)", b), ("(c)", c)):
        out.append(f"    {label} busy, share of one CPU: {busy_shares(run)}")
    t = p["timeline_ms"]
    if t.get("total") is not None:
        out += [
            "",
            "  Wall time of one task (avg ms, from the events' transaction timestamps):",
            f"    claim -> run started            {number(t['claim_to_run_started'])}",
            f"    -> LLM call 1 persisted         {number(t['to_llm_call_1_persisted'])}",
            f"    -> tool result persisted        {number(t['to_tool_result_persisted'])}",
            f"    -> LLM call 2 persisted         {number(t['to_llm_call_2_persisted'])}",
            f"    -> task finished                {number(t['to_finished'])}",
            f"    = claim to finish               {number(t['total'])}",
            f"    LLM HTTP as the worker timed it: {number(t['llm_http_ms_per_call'])} ms per call "
            "(x2); the server answers at once, so the rest is waiting for the worker's GIL",
            "    slot time per task (concurrency / throughput): "
            f"{number(p['slot_ms_per_task'])} ms, "
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
