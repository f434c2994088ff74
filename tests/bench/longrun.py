"""(longrun, target E) One run of 200 steps with 20 KB tool results: does a step's write cost
grow with the run (issue 15)?

Each step is what a tool round adds to a run: the model's tool call and a 20 KB tool result,
with an event and a latency metric, written through the real journal statement
(``worker.durable.journal.append``: one autocommit statement gated on the lease), as the runtime
role under row-level security, as deployed. Per step: the statement's time and the WAL it wrote
(``pg_current_wal_insert_lsn()`` before and after, read outside the timed part). Reported: the
medians of steps 8-12 and 196-200, and their ratios (target: step 200 <= 1.5 x step 10, for
both).

The same steps then go to the old design on a bare table, ``messages = messages || …`` on one
JSONB column (what ``agent_runs.messages`` was before migration 0016), for the README's
comparison. Each window starts after a CHECKPOINT where the role may run one, so both pay the
first full-page images alike (the median keeps them out).
"""

from __future__ import annotations

import json
import random
import statistics
import string
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from models import AgentRunStatus, EventType, MetricCategory, TaskStatus, db
from models.tenant_scope import tenant_scope
from tests.bench.scenarios.context import Context
from tests.bench.services import unique
from tests.support.agents import ensure_tenant
from worker.core.database_roles import ensure_runtime_login
from worker.durable import conversation, journal, records

#: The target is about step 200: a quick run takes the same steps (about a minute).
STEPS = 200
RESULT_BYTES = 20_000
#: The steps whose median stands for "step 10" and "step 200".
EARLY = range(8, 13)
LATE = range(STEPS - 4, STEPS + 1)
TARGET_RATIO = 1.5
OWNER = "bench:longrun"


@dataclass(frozen=True)
class Window:
    ms: float
    wal_bytes: float

    def as_json(self) -> dict[str, float]:
        return {"ms": round(self.ms, 3), "wal_bytes": round(self.wal_bytes)}


@dataclass(frozen=True)
class Design:
    """One design's cost per step at step 10 and step 200 (medians of the windows)."""

    name: str
    early: Window
    late: Window
    total_wal_bytes: int
    seconds: float

    @property
    def time_ratio(self) -> float:
        return self.late.ms / self.early.ms if self.early.ms else float("inf")

    @property
    def wal_ratio(self) -> float:
        return self.late.wal_bytes / self.early.wal_bytes if self.early.wal_bytes else float("inf")

    def as_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "step_10": self.early.as_json(),
            "step_200": self.late.as_json(),
            "time_ratio": round(self.time_ratio, 3),
            "wal_ratio": round(self.wal_ratio, 3),
            "total_wal_bytes": self.total_wal_bytes,
            "seconds": round(self.seconds, 2),
        }


@dataclass(frozen=True)
class LongRunBench:
    steps: int
    result_bytes: int
    rows: Design
    column: Design
    load_ms: float
    loaded_messages: int

    @property
    def passed(self) -> bool:
        return self.rows.time_ratio <= TARGET_RATIO and self.rows.wal_ratio <= TARGET_RATIO

    def as_json(self) -> dict[str, object]:
        return {
            "steps": self.steps,
            "result_bytes": self.result_bytes,
            "rows": self.rows.as_json(),
            "old_column_append": self.column.as_json(),
            "resume_load_ms": round(self.load_ms, 2),
            "resume_loaded_messages": self.loaded_messages,
            "target_ratio": TARGET_RATIO,
            "passed": self.passed,
        }


def longrun_section(result: LongRunBench) -> list[str]:
    def line(design: Design) -> list[str]:
        e, late = design.early, design.late
        return [
            f"  {design.name}",
            f"    step 10: {e.ms:8.2f} ms {e.wal_bytes / 1024:9.1f} KiB WAL;  step {result.steps}: "
            f"{late.ms:8.2f} ms {late.wal_bytes / 1024:9.1f} KiB WAL",
            f"    step {result.steps} / step 10: time {design.time_ratio:.2f}x, "
            f"WAL {design.wal_ratio:.2f}x;  all {result.steps} steps: "
            f"{design.total_wal_bytes / 2**20:.1f} MiB WAL in {design.seconds:.1f}s",
        ]

    verdict = "met" if result.passed else "NOT met"
    return [
        "",
        f"(E) one run of {result.steps} steps, {result.result_bytes // 1000} KB tool results "
        f"(medians of steps {EARLY.start}-{EARLY.stop - 1} and {LATE.start}-{LATE.stop - 1})",
        *line(result.rows),
        *line(result.column),
        f"  resume: loading the {result.loaded_messages} messages took {result.load_ms:.1f} ms",
        f"  target: step {result.steps} <= {TARGET_RATIO} x step 10 (time and WAL), rows: "
        f"{verdict}",
    ]


@dataclass(frozen=True)
class OnlyLongRun:
    """``--only longrun``: the machine and (E)'s figures."""

    meta: dict[str, object]
    longrun: LongRunBench

    def render(self) -> str:
        meta = self.meta
        head = [
            f"agentworker benchmark, long run only ({meta['mode']} run, {meta['started_at']})",
            f"  machine: {meta['cpus']} CPUs, {meta['platform']}, Python {meta['python']}",
            f"  PostgreSQL {meta['postgres']} ({meta['postgres_origin']})",
        ]
        return "\n".join(head + longrun_section(self.longrun)) + "\n"

    def as_json(self) -> dict[str, object]:
        return {"meta": self.meta, "longrun": self.longrun.as_json()}


def _tool_result(rng: random.Random, size: int) -> str:
    """Text like a tool's output (words and lines), not one repeated byte, so TOAST
    compresses it as it would a real one."""
    words = ["".join(rng.choices(string.ascii_lowercase, k=rng.randint(2, 9))) for _ in range(400)]
    out: list[str] = []
    length = 0
    while length < size:
        line = " ".join(rng.choices(words, k=rng.randint(4, 14)))
        out.append(line)
        length += len(line) + 1
    return "\n".join(out)[:size]


def _messages(rng: random.Random, n: int) -> list[dict[str, Any]]:
    call = f"call_{n}"
    return [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": call,
                    "type": "function",
                    "function": {"name": "read_file", "arguments": json.dumps({"n": n})},
                }
            ],
        },
        {"role": "tool", "tool_call_id": call, "content": _tool_result(rng, RESULT_BYTES)},
    ]


def _setup(owner: sa.Engine) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    """(tenant, task, run): a RUNNING task leased to OWNER, its run started with 2 messages."""
    tenant = ensure_tenant(owner, unique("longrun"))
    first = [
        {"role": "system", "content": "You are a coding agent."},
        {"role": "user", "content": "Fix the bug."},
    ]
    with owner.begin() as connection:
        task = connection.execute(
            sa.text(
                "INSERT INTO tasks (tenant_id, status, lease_owner, lease_expires_at) "
                "VALUES (:t, :s, :o, now() + interval '1 hour') RETURNING id"
            ),
            {"t": tenant, "s": TaskStatus.RUNNING.value, "o": OWNER},
        ).scalar_one()
        run = connection.execute(
            sa.text(
                "INSERT INTO agent_runs (tenant_id, task_id, agent_name, status, message_count) "
                "VALUES (:t, :task, 'coder', :s, 2) RETURNING id"
            ),
            {"t": tenant, "task": task, "s": AgentRunStatus.RUNNING.value},
        ).scalar_one()
        connection.execute(
            sa.text(
                "INSERT INTO agent_run_messages (run_id, seq, tenant_id, message) "
                "SELECT :r, n, :t, m FROM jsonb_array_elements(CAST(:m AS jsonb)) "
                "WITH ORDINALITY AS e(m, n)"
            ),
            {"r": run, "t": tenant, "m": json.dumps(first)},
        )
    return tenant, task, run


def _wal(connection: sa.Connection) -> int:
    return int(
        connection.execute(
            # The insert position: pg_current_wal_lsn() is where WAL has been written out to,
            # which lags behind with synchronous_commit off (the embedded server's setting).
            sa.text("SELECT pg_wal_lsn_diff(pg_current_wal_insert_lsn(), '0/0')::bigint")
        ).scalar_one()
    )


def _checkpoint(owner: sa.Engine) -> None:
    try:
        with owner.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(sa.text("CHECKPOINT"))
    except sa.exc.DBAPIError:  # not a superuser (nor pg_checkpoint): windows as they come
        pass


def _drive(
    owner: sa.Engine,
    write: Callable[[sa.Connection, int, list[dict[str, Any]]], None],
    steps: int,
    say: Callable[[str], None],
    name: str,
) -> Design:
    """Write ``steps`` steps through ``write`` on one autocommit connection; time and WAL each."""
    rng = random.Random(15)
    ms: dict[int, float] = {}
    wal: dict[int, int] = {}
    started = time.monotonic()
    with owner.connect().execution_options(isolation_level="AUTOCOMMIT") as meter:
        first = _wal(meter)
        for n in range(1, steps + 1):
            messages = _messages(rng, n)
            if n in (EARLY.start, LATE.start):
                _checkpoint(owner)
            before = _wal(meter)
            began = time.perf_counter()
            write(meter, n, messages)
            ms[n] = (time.perf_counter() - began) * 1000
            wal[n] = _wal(meter) - before
            if n % 50 == 0:
                say(f"   {name}: step {n}: {ms[n]:.2f} ms, {wal[n] / 1024:.1f} KiB WAL")
        total = _wal(meter) - first

    def window(steps_of: range) -> Window:
        return Window(
            statistics.median(ms[n] for n in steps_of),
            statistics.median(wal[n] for n in steps_of),
        )

    return Design(name, window(EARLY), window(LATE), total, time.monotonic() - started)


def _rows_design(
    ctx: Context, owner: sa.Engine, steps: int, say: Callable[[str], None]
) -> tuple[Design, float, int]:
    tenant, task, run = _setup(owner)
    runtime = db.create_sync_engine(ensure_runtime_login(ctx.database.url))
    scope = records.Scope(tenant_id=tenant, task_id=task, agent_run_id=run)
    try:
        with (
            tenant_scope(tenant),
            runtime.connect().execution_options(isolation_level="AUTOCOMMIT") as connection,
        ):

            def write(_: sa.Connection, n: int, messages: list[dict[str, Any]]) -> None:
                step = journal.Step(
                    messages,
                    events=[records.event(scope, EventType.TOOL_RESULT, "read_file", {"n": n})],
                    metrics=[_metric(tenant, n)],
                    llm_calls=1,
                    prompt_tokens=1000 + n,
                    completion_tokens=20,
                    cost=Decimal("0.0001"),
                )
                if not journal.append(
                    connection, task_id=task, owner=OWNER, run_id=run, model="m", step=step
                ):
                    raise RuntimeError("the bench's task lost its lease")

            design = _drive(owner, write, steps, say, "rows (agent_run_messages)")
            began = time.perf_counter()
            loaded = conversation.load(connection, run)
            load_ms = (time.perf_counter() - began) * 1000
    finally:
        runtime.dispose()
    return design, load_ms, len(loaded)


def _metric(tenant: uuid.UUID, n: int) -> dict[str, Any]:
    return {
        "tenant_id": tenant,
        "agent_id": None,
        "metric_category": MetricCategory.LATENCY,
        "metric_name": "llm.chat.latency_ms",
        "metric_value": Decimal("12.5"),
        "measurement_context": {"step": n},
        "measurement_timestamp": datetime.now(UTC),
    }


_OLD_TABLE = "bench_longrun_column_append"


def _column_design(owner: sa.Engine, steps: int, say: Callable[[str], None]) -> Design:
    """The old design: one JSONB column every step appends to (rewritten whole)."""
    run = uuid.uuid4()
    with owner.begin() as connection:
        connection.execute(sa.text(f"DROP TABLE IF EXISTS {_OLD_TABLE}"))
        connection.execute(
            sa.text(
                f"CREATE TABLE {_OLD_TABLE} (id uuid PRIMARY KEY, step_count int NOT NULL "
                "DEFAULT 0, messages jsonb NOT NULL DEFAULT '[]'::jsonb)"
            )
        )
        connection.execute(sa.text(f"INSERT INTO {_OLD_TABLE} (id) VALUES (:id)"), {"id": run})
    append = sa.text(
        f"UPDATE {_OLD_TABLE} SET messages = messages || CAST(:m AS jsonb), "
        "step_count = step_count + 1 WHERE id = :id RETURNING id"
    )

    def write(connection: sa.Connection, _: int, messages: list[dict[str, Any]]) -> None:
        connection.execute(append, {"m": json.dumps(messages), "id": run}).one()

    try:
        return _drive(owner, write, steps, say, "old: messages || ... on one JSONB column")
    finally:
        with owner.begin() as connection:
            connection.execute(sa.text(f"DROP TABLE IF EXISTS {_OLD_TABLE}"))


def run_longrun(ctx: Context, *, steps: int, say: Callable[[str], None]) -> LongRunBench:
    if steps < LATE.stop - 1:
        raise ValueError(f"the long run needs at least {LATE.stop - 1} steps, not {steps}")
    owner = db.create_sync_engine(ctx.database.url)
    try:
        say(f"(longrun) {steps} steps of {RESULT_BYTES // 1000} KB tool results, rows")
        rows, load_ms, loaded = _rows_design(ctx, owner, steps, say)
        say(f"(longrun) the same {steps} steps, the old column append")
        column = _column_design(owner, steps, say)
    finally:
        owner.dispose()
    return LongRunBench(steps, RESULT_BYTES, rows, column, load_ms, loaded)
