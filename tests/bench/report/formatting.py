"""The report's cells and tables: numbers with a dash for unknown, PASS/FAIL, aligned columns,
and the one-line summaries of CPU, memory, Redis commands and table activity per run."""

from __future__ import annotations

import os

from tests.bench.scenarios.result import RunResult

CPUS = os.cpu_count() or 1


def aligned_table(headers: list[str], rows: list[list[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = (cell.rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True))
        return indent + "  ".join([first, *rest]).rstrip()

    return [line(headers), indent + "  ".join("-" * w for w in widths), *map(line, rows)]


def number(value: float | None, digits: int = 1, suffix: str = "") -> str:
    return "-" if value is None else f"{value:,.{digits}f}{suffix}"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def cpu_rows(runs: list[RunResult]) -> list[list[str]]:
    names = list(dict.fromkeys(name for run in runs for name in run.cpu_seconds))
    rows = []
    for name in names:
        cells = [name]
        for run in runs:
            spent = run.cpu_seconds.get(name)
            cells.append(number(None if spent is None else spent * 1000 / run.tasks, 2))
        rows.append(cells)
    totals = ["total"]
    for run in runs:
        known = [s for s in run.cpu_seconds.values() if s is not None]
        totals.append(number(sum(known) * 1000 / run.tasks, 2))
    rows.append(totals)
    return rows


def cpu_total_ms(run: RunResult) -> float:
    return sum(s for s in run.cpu_seconds.values() if s is not None) * 1000 / run.tasks


def workers_cell(run: RunResult) -> str:
    """Processes x threads each: "2 x 16"."""
    return f"{run.processes} x {run.concurrency_per_process}"


def process_count(count: int) -> str:
    return f"{count} process" + ("" if count == 1 else "es")


def rss_cell(run: RunResult) -> str:
    """ "2 processes, 95 + 93 MiB = 188 MiB"; one process: "1 process, 95 MiB"."""
    each = run.peak_rss_each_mib or [run.peak_rss_mib]
    if len(each) == 1:
        return f"{process_count(1)}, {number(each[0], 0, ' MiB')}"
    parts = " + ".join(number(rss, 0) for rss in each)
    return f"{process_count(len(each))}, {parts} MiB = {number(run.peak_rss_mib, 0, ' MiB')}"


def tables_line(tables: dict[str, dict[str, float]]) -> str:
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


def busy_shares(run: RunResult) -> str:
    return ", ".join(
        f"{name} {spent / run.seconds:.0%}"
        for name, spent in run.cpu_seconds.items()
        if spent is not None and run.seconds > 0
    )


def capacity_cell(run: RunResult) -> str:
    total = cpu_total_ms(run)
    return number(CPUS * 1000 / total, 0) if total else "-"


def redis_line(run: RunResult) -> str:
    total = sum(run.redis_commands.values()) / run.tasks
    top = ", ".join(
        f"{name} {count / run.tasks:.1f}" for name, count in list(run.redis_commands.items())[:6]
    )
    return f"{total:.1f} commands ({top})"
