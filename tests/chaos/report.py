"""The soak's one table, and the details behind every must-be-0 row that is not 0."""

from __future__ import annotations

from tests.chaos.soak import SoakReport

RECOVERY_TARGET_SECONDS = 60.0


def render(report: SoakReport) -> str:
    options = report.options
    rows: list[tuple[str, str, str]] = [
        ("submitted", str(report.submitted), ""),
        ("succeeded", str(report.succeeded), ""),
    ]
    rows += [
        (f"failed: {reason}", str(count), "")
        for reason, count in sorted(report.failed.items(), key=lambda item: -item[1])
    ] or [("failed", "0", "")]
    rows.append(("cancelled", str(report.cancelled), ""))
    for name, count in report.must_be_zero().items():
        rows.append((name, str(count), "must be 0" + ("" if count == 0 else ": FAILED")))
    rows += [
        ("side effects recorded done, never delivered", str(len(report.effects_lost)), ""),
        ("events out of order", str(len(report.events_out_of_order)), ""),
        (
            "LLM requests (bound: persisted + failed + a slot per fault)",
            f"{report.llm_requests} <= {report.llm_bound}",
            "" if report.llm_requests <= report.llm_bound else "over the bound",
        ),
        ("malformed messages sent", str(report.malformed), ""),
        ("workers SIGKILLed by the driver", str(report.kills), ""),
    ]
    for label, (p50, p95) in report.completion.items():
        rows.append((f"completion time p50 / p95 ({label})", f"{p50:.1f} s / {p95:.1f} s", ""))
    rows += _recoveries(report)
    width = max(len(label) for label, _, _ in rows)
    value_width = max(len(value) for _, value, _ in rows)
    lines = [
        f"make chaos: {report.submitted} jobs, {options.workers} workers x "
        f"{options.concurrency} threads, a worker SIGKILLed every ~{options.kill_every:.0f} s, "
        f"PostgreSQL and Redis restarted once, 1 LLM call in {options.llm_failure_every} "
        f"failing; {report.seconds:.0f} s"
        + ("" if report.drained else " (the work had not drained when the soak ended)"),
        "",
    ]
    lines += [
        f"  {label:<{width}}  {value:>{value_width}}  {note}".rstrip()
        for label, value, note in rows
    ]
    lines += _details(report)
    return "\n".join(lines)


def _recoveries(report: SoakReport) -> list[tuple[str, str, str]]:
    rows = []
    by_name: dict[str, list[float | None]] = {}
    for fault in report.recoveries:
        by_name.setdefault(fault.name, []).append(fault.seconds)
    for name, seconds in by_name.items():
        known = sorted(s for s in seconds if s is not None)
        never = len(seconds) - len(known)
        if len(seconds) == 1:
            value = f"{known[0]:.1f} s" if known else "never"
        else:
            value = (
                f"p50 {known[len(known) // 2]:.1f} s, max {known[-1]:.1f} s" if known else "never"
            ) + (f", {never} never" if never and known else "")
        worst = known[-1] if known else None
        missed = never or worst is None or worst >= RECOVERY_TARGET_SECONDS
        note = f"target < {RECOVERY_TARGET_SECONDS:.0f} s" + (": missed" if missed else "")
        rows.append((f"recovery after {name} ({len(seconds)})", value, note))
    return rows


def _details(report: SoakReport) -> list[str]:
    sections = {
        "lost": report.lost,
        "side effects repeated": report.repeated,
        "gates bypassed": report.bypassed,
        "stranded": report.stranded,
        "malformed messages unrecorded": report.unrecorded,
        "worker crashes not caused by the driver": report.crashes,
    }
    lines = []
    if report.driver_errors:
        lines += [
            "",
            "faults the driver could not throw:",
            *(f"  {e}" for e in report.driver_errors),
        ]
    if report.slowest:
        lines += ["", "slowest to recover:", *(f"  {line}" for line in report.slowest)]
    if report.failed_examples:
        lines += ["", "failed (examples):", *(f"  {e}" for e in report.failed_examples)]
    for title, items in sections.items():
        if items:
            lines += ["", f"{title} ({len(items)}, first 10):"]
            lines += [f"  {item}" for item in items[:10]]
    return lines
