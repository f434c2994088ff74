"""The report as text: the machine, the CPU-bound (a)/(b0)/(b) and I/O-bound (c) tables with
their targets, (b)'s profile and the workflows section."""

from __future__ import annotations

from tests.bench.report.agent_profile import agent_profile
from tests.bench.report.formatting import (
    aligned_table,
    number,
    process_count,
    rss_cell,
    verdict,
    workers_cell,
)
from tests.bench.report.results import TARGET_CPU_BOUND, TARGET_IO_BOUND, Results
from tests.bench.report.workflows import workflows_section


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
        f"  worker: threads pool; {process_count(b.processes)} for (b0), (b) and (c), bare Celery "
        "and ours alike, 1 for (a) and the workflows;",
        f"    DB pool {meta['db_pool_size']} + overflow {meta['db_max_overflow']} per process; "
        "local LLM server in its own process",
        "",
        "(a)/(b0)/(b) CPU-bound: LLM at 0 ms, the same total worker concurrency; "
        "workers = processes x threads each",
        "  (one process runs Python on at most one CPU, however many threads it has)",
    ]
    out += aligned_table(
        [
            *("scenario", "workers", "tasks", "seconds", "tasks/s", "ratio vs (a)"),
            *("ratio vs (b0)", "target", "result"),
        ],
        [
            [
                "(a) bare Celery, no-op",
                workers_cell(a),
                str(a.tasks),
                number(a.seconds, 3),
                number(a.per_second),
                "1.000",
                "-",
                "-",
                "-",
            ],
            [
                "(b0) bare Celery + openai SDK, 2 LLM calls",
                workers_cell(b0),
                str(b0.tasks),
                number(b0.seconds, 3),
                number(b0.per_second),
                number(ratios["b0_over_a"]["ratio"], 3),
                "1.000",
                "-",
                "-",
            ],
            [
                "(b) agent, 2 LLM calls + 1 tool",
                workers_cell(b),
                str(b.tasks),
                number(b.seconds, 3),
                number(b.per_second),
                number(ratios["b_over_a"]["ratio"], 3),
                number(ratios["b_over_b0"]["ratio"], 3),
                number(TARGET_CPU_BOUND, 2),
                verdict(passed["b_over_a"]),
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
        f"concurrency {ca.concurrency} ({process_count(ca.processes)} x "
        f"{ca.concurrency_per_process} threads, bare and agent alike);",
        "  bound = concurrency / (calls x latency)",
    ]
    out += aligned_table(
        [
            *("scenario", "workers", "tasks", "seconds", "tasks/s", "bound", "of bound"),
            *("ratio vs bare", "target", "result", "peak RSS, sum"),
        ],
        [
            [
                f"bare Celery, sleeps {cb.llm_calls_per_task} x {cb.latency_ms:g} ms",
                workers_cell(cb),
                str(cb.tasks),
                number(cb.seconds, 3),
                number(cb.per_second),
                number(cb.bound, 0),
                number(cb.per_second / (cb.bound or 1), 3),
                "1.000",
                "-",
                "-",
                number(cb.peak_rss_mib, 0, " MiB"),
            ],
            [
                "agent, 2 LLM calls + 1 tool",
                workers_cell(ca),
                str(ca.tasks),
                number(ca.seconds, 3),
                number(ca.per_second),
                number(ca.bound, 0),
                number(ca.per_second / (ca.bound or 1), 3),
                number(ratios["c_agent_over_bare"]["ratio"], 3),
                number(TARGET_IO_BOUND, 2),
                verdict(passed["c_agent_over_bare"]),
                number(ca.peak_rss_mib, 0, " MiB"),
            ],
        ],
    )
    out += ["  worker peak RSS: each worker process's VmHWM, read just before it was stopped"]
    out += [
        f"    {label:<28}{rss_cell(run)}"
        for label, run in (
            ("(a) bare, no-op:", a),
            ("(b0) bare + openai SDK:", b0),
            ("(b) agent:", b),
            ("(c) bare, sleeps:", cb),
            ("(c) agent:", ca),
        )
    ]
    out.append("")
    out += agent_profile(a, b0, b, ca)
    out += ["", *workflows_section(results.workflows, b)]
    return "\n".join(out) + "\n"
