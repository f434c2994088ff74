"""The workflows section of the report: (w1)'s latencies per resolve mode, (w2)'s cost of
executions waiting on approvals, (w3)'s throughput against (b)."""

from __future__ import annotations

import textwrap

from tests.bench.report.formatting import (
    aligned_table,
    busy_shares,
    number,
    process_count,
    redis_line,
    verdict,
)
from tests.bench.scenarios.result import RunResult
from tests.bench.workflows.results import (
    HEADLINE,
    INTERVALS,
    MODES,
    TARGET_BACK_TO_BACK_P95_MS,
    TARGET_MODE,
    TARGET_RESOLVE_P50_MS,
    TARGET_STEPS_OVER_TASKS,
    StepsResult,
    WorkflowResults,
)


def workflows_section(w: WorkflowResults, b: RunResult) -> list[str]:
    """(w1), (w2) and (w3), with (w3) set against (b)."""
    return [*_resolve_lines(w), "", *_waiting_lines(w), "", *_steps_lines(w.steps, b)]


def _resolve_lines(w: WorkflowResults) -> list[str]:
    resolve, targets = w.resolve, w.targets()
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
            cells += [number(figures["p50"]), number(figures["p95"])]
        rows.append(cells)
    headers = ["ms"]
    for mode in batches:
        headers += [f"{mode} p50", "p95"]
    out += aligned_table(headers, rows, indent="    ")
    headline = targets["resolve_p50_ms"]
    out.append(
        f"  target: {dict(INTERVALS)[HEADLINE]}, {TARGET_MODE} p50 < {TARGET_RESOLVE_P50_MS:g} "
        f"ms: {number(headline['value'])} ms {verdict(headline['pass'])} (max per mode in the JSON)"
    )
    back_to_back = targets.get("resolve_back_to_back_p95_ms")
    if back_to_back is not None:
        out.append(
            f"  target: back to back p95 < {TARGET_BACK_TO_BACK_P95_MS:g} ms: "
            f"{number(back_to_back['value'])} ms {verdict(back_to_back['pass'])}"
        )
    return out


def _waiting_lines(w: WorkflowResults) -> list[str]:
    waiting, targets = w.waiting, w.targets()
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
    return [
        f"(w2) {waiting.executions:,} executions waiting on approvals (all awaiting_approval "
        f"{waiting.start_seconds:.1f} s after the first start; {waiting.approvers} eligible "
        "approver)",
        f"  worker slots held: {number(slots['value'], 0)} (target 0: {verdict(slots['pass'])}): "
        f"worker active tasks {number(waiting.worker_active_max, 0)}, reserved "
        f"{number(waiting.worker_reserved_max, 0)}",
        f"    (max of {waiting.slot_samples} inspect() samples), tasks RUNNING in the database "
        f"{waiting.running_tasks}, task rows of these executions {waiting.tasks_of_these}; "
        f"worker CPU meanwhile {number(None if cpu is None else cpu * 100, 1)}% of one CPU",
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
        f"    of which statement execution {number(listed['statement_exec_ms'], 2)} ms "
        "(pg_stat_statements); target < 200 ms: "
        f"{verdict(targets['approvals_list_ms']['pass'])}",
        f"  agentworker approvals list --tenant X --json, whole process: median "
        f"{cli['median']:,.0f} ms over {len(cli['runs'])} runs ({cli['rows']} rows); "
        f"start-up alone (agentworker --help) {cli['startup_median_ms']:,.0f} ms",
    ]


def _steps_lines(steps: StepsResult, b: RunResult) -> list[str]:
    run = steps.run
    p = run.profile
    ratio = steps.executions_per_second / b.per_second
    step_ratio = steps.steps_per_second / b.per_second
    out = [
        f"(w3) {steps.steps}-step workflow, each step the agent of (b) (2 LLM calls + 1 tool), "
        f"LLM at 0 ms, concurrency {run.concurrency} in {process_count(run.processes)}",
    ]
    if b.processes != run.processes:
        out.append(
            f"  (b) ran in {process_count(b.processes)} x {b.concurrency_per_process} threads: "
            "the ratios below set one process against several"
        )
    out += aligned_table(
        ["scenario", "count", "seconds", "per second", "ratio vs (b) tasks/s", "ideal"],
        [
            [
                "(b) agent tasks",
                str(b.tasks),
                number(b.seconds, 3),
                number(b.per_second),
                "1.000",
                "-",
            ],
            [
                f"(w3) workflow executions ({steps.steps} agent steps)",
                str(run.tasks),
                number(run.seconds, 3),
                number(steps.executions_per_second),
                number(ratio, 3),
                number(1 / steps.steps, 3),
            ],
            [
                "(w3) agent steps",
                str(run.tasks * steps.steps),
                number(run.seconds, 3),
                number(steps.steps_per_second),
                number(step_ratio, 3),
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
        *(
            [
                f"  target: agent steps/s >= {TARGET_STEPS_OVER_TASKS:g} x (b) tasks/s: "
                f"{number(step_ratio, 3)} {verdict(step_ratio >= TARGET_STEPS_OVER_TASKS)}"
            ]
            if b.processes == run.processes
            else []
        ),
        f"  per execution: {p['agent_tasks_per_execution']:.2f} agent tasks, "
        f"{p['llm_requests_per_execution']:.2f} LLM requests, "
        f"{counters.get('xact_commit', 0):.1f} transactions, {statements_line}; "
        f"avg {number(p['execution_ms_avg'], 0)} ms first step to completion",
        "  worker CPU per agent step: "
        + (
            f"{worker_cpu * 1000 / (run.tasks * steps.steps):.1f} ms"
            if worker_cpu is not None
            else "-"
        )
        + " (advances included); (b) per task: "
        + (f"{b_worker * 1000 / b.tasks:.1f} ms" if b_worker is not None else "-")
        + f"; busy, share of one CPU: {busy_shares(run)}",
        "  per step (avg ms, every execution started at once, so mostly queueing): advance "
        f"made the task -> claimed {number(t['advance_to_claim'])}, "
        f"claimed -> task finished {number(t['claim_to_task_finished'])}, "
        f"task finished -> step recorded by the next advance "
        f"{number(t['task_finished_to_step_done'])}",
        f"  Redis: {redis_line(run)} per execution; peak RSS {number(run.peak_rss_mib, 0, ' MiB')}",
    ]
    return out
