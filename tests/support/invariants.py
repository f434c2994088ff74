"""The promises, checked on the database after faults: shared by the fault campaign
(tests/e2e/test_fault_campaign.py) and the soak (``make chaos``).

Each check reads committed rows (and, for side effects, the test's sink) and returns the
violations it found, empty when the promise held:

- ``unfinished``: every task and workflow execution ended SUCCEEDED/COMPLETED, FAILED with a
  reason, or CANCELLED, or waits with exactly one pending approval;
- ``side_effects``: no tool call reached its external service twice, and every call recorded
  as done reached it once;
- ``gates_bypassed``: no step after a gate ran unless that attempt's approval let it through
  (approved, or a policy that continues past the gate: ``skip``, a ``goto:`` forward);
- ``llm_calls``: per model, LLM requests at most the persisted LLM calls, plus the failed
  attempts recorded, plus one per crash;
- ``event_order``: per task, event ids increase with the time they were written, so a reader
  that follows ``id > last`` misses nothing.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from tests.support.sink import Sink
from tests.support.sink_tools import IDEMPOTENT_TOOL, ONCE_TOOL
from worker.workflows.definition import ApprovalStep, ParallelStep, parse_definition

_SINK_PATHS = {IDEMPOTENT_TOOL: "/notify", ONCE_TOOL: "/once"}


@dataclass(frozen=True)
class Violation:
    invariant: str
    subject: str
    detail: str

    def __str__(self) -> str:
        return f"[{self.invariant}] {self.subject}: {self.detail}"


def check_all(
    engine: sa.Engine,
    sink: Sink | None = None,
    *,
    llm_requests: Mapping[str, int] | None = None,
    crashes: int = 0,
) -> list[Violation]:
    """Every check below; ``sink`` and ``llm_requests`` (per model, from the LLM server's
    counts) are optional."""
    found = unfinished(engine) + gates_bypassed(engine) + event_order(engine)
    if sink is not None:
        found += side_effects(engine, sink)
    if llm_requests is not None:
        found += llm_calls(engine, llm_requests, crashes=crashes)
    return found


def _rows(engine: sa.Engine, sql: str, **params: Any) -> list[sa.Row[Any]]:
    with engine.connect() as connection:
        return list(connection.execute(sa.text(sql), params).all())


# -- every job ends, or waits for exactly one person ------------------------------------------


def unfinished(engine: sa.Engine) -> list[Violation]:
    """Tasks and executions that are neither ended (a failure with its reason) nor waiting
    with exactly one pending approval: stranded work."""
    found: list[Violation] = []
    for row in _rows(
        engine,
        "SELECT t.id, t.status, t.error, t.lease_owner, t.lease_expires_at, t.attempts, "
        "t.workflow_step, (SELECT count(*) FROM approvals a WHERE a.task_id = t.id "
        "AND a.status = 'pending') AS pending FROM tasks t "
        "WHERE t.status NOT IN ('SUCCEEDED', 'FAILED', 'CANCELLED') "
        "OR (t.status = 'FAILED' AND coalesce(t.error, '') = '')",
    ):
        subject = f"task {row.id}" + (f" (step {row.workflow_step})" if row.workflow_step else "")
        if row.status == "FAILED":
            found.append(Violation("unfinished", subject, "FAILED without a reason"))
        elif row.status == "AWAITING_APPROVAL" and row.pending == 1:
            continue
        else:
            found.append(
                Violation(
                    "unfinished",
                    subject,
                    f"{row.status} after {row.attempts} attempt(s), lease {row.lease_owner} "
                    f"until {row.lease_expires_at}, {row.pending} pending approval(s)",
                )
            )
    for row in _rows(
        engine,
        "SELECT e.id, e.status, e.current_step, e.error_log, e.updated_at, "
        "(SELECT count(*) FROM approvals a WHERE a.workflow_execution_id = e.id "
        "AND a.status = 'pending') AS pending FROM ai_workflow_executions e "
        "WHERE e.status NOT IN ('completed', 'cancelled')",
    ):
        subject = f"execution {row.id}"
        if row.status == "failed":
            if not (row.error_log or {}).get("error"):
                found.append(Violation("unfinished", subject, "failed without a reason"))
        elif not (row.status == "awaiting_approval" and row.pending == 1):
            found.append(
                Violation(
                    "unfinished",
                    subject,
                    f"{row.status} at step {row.current_step}, {row.pending} pending "
                    f"approval(s), last moved {row.updated_at}",
                )
            )
    return found


# -- no side effect twice ----------------------------------------------------------------------


def side_effects(engine: sa.Engine, sink: Sink) -> list[Violation]:
    """No call applied twice at the sink (or sent without a key); every call of the sink's
    idempotent tool recorded as a success in a task that succeeded reached it exactly once."""
    found = [Violation("side_effect_repeated", "sink", p) for p in sink.repeated_effects()]
    applied = sink.applied_per_call()
    for row in _sink_calls(engine):
        call = (_SINK_PATHS[row.tool_name], str(row.task_id), str(row.tool_call_id))
        count = applied.get(call, 0)
        if row.tool_name == IDEMPOTENT_TOOL and row.status == "success" and count != 1:
            found.append(
                Violation(
                    "side_effect_lost" if count == 0 else "side_effect_repeated",
                    f"task {row.task_id}",
                    f"{row.tool_name} call {row.tool_call_id} is recorded as a success "
                    f"(task {row.task_status}) but the sink applied it {count} time(s)",
                )
            )
    return found


def _sink_calls(engine: sa.Engine) -> list[sa.Row[Any]]:
    query = sa.text(
        "SELECT a.task_id, a.tool_call_id, a.tool_name, a.status, t.status AS task_status "
        "FROM action_logs a JOIN tasks t ON t.id = a.task_id WHERE a.tool_name IN :tools"
    ).bindparams(sa.bindparam("tools", expanding=True))
    with engine.connect() as connection:
        return list(connection.execute(query, {"tools": list(_SINK_PATHS)}).all())


# -- the human gate holds ----------------------------------------------------------------------


@dataclass(frozen=True)
class _Asked:
    attempt: int
    status: str
    created_at: datetime
    decided_at: datetime | None
    policy: dict[str, Any]


def gates_bypassed(engine: sa.Engine) -> list[Violation]:
    """Every step run after a gate (in definition order) started only after the latest
    approval that gate had asked for by then was decided, and that decision lets work past
    the gate: approved, or rejected/expired under a ``skip`` or forward ``goto:`` policy."""
    executions = _rows(
        engine,
        "SELECT e.id, v.steps FROM ai_workflow_executions e "
        "JOIN ai_workflow_versions v ON v.id = e.workflow_version_id",
    )
    runs = defaultdict(list)
    for row in _rows(
        engine,
        "SELECT execution_id, step_key, step_kind, attempt, status, "
        "coalesce(started_at, CASE WHEN status <> 'pending' THEN created_at END) AS began "
        "FROM ai_workflow_step_runs",
    ):
        runs[row.execution_id].append(row)
    asked: dict[tuple[uuid.UUID, str], list[_Asked]] = defaultdict(list)
    for row in _rows(
        engine,
        "SELECT workflow_execution_id, step_key, step_attempt, status, created_at, decided_at, "
        "policy FROM approvals WHERE kind = 'workflow_step'",
    ):
        asked[(row.workflow_execution_id, row.step_key)].append(
            _Asked(row.step_attempt or 1, row.status, row.created_at, row.decided_at, row.policy)
        )
    found: list[Violation] = []
    for execution in executions:
        definition = parse_definition(execution.steps)
        position = _positions(definition)
        gates = [(i, s.key) for i, s in enumerate(definition.steps) if isinstance(s, ApprovalStep)]
        for run in runs[execution.id]:
            if run.began is None or run.step_kind == "approval" or run.step_key not in position:
                continue
            for gate_position, gate in gates:
                if gate_position >= position[run.step_key]:
                    continue
                problem = _passed(
                    asked[(execution.id, gate)], run.began, position, gate_position, run.step_key
                )
                if problem:
                    found.append(
                        Violation(
                            "gate_bypassed",
                            f"execution {execution.id}",
                            f"step {run.step_key} attempt {run.attempt} ran at {run.began} "
                            f"past gate {gate}: {problem}",
                        )
                    )
    return found


def _positions(definition: Any) -> dict[str, int]:
    """Each step's position in the definition; a parallel step's branches share its own."""
    position: dict[str, int] = {}
    for index, step in enumerate(definition.steps):
        position[step.key] = index
        if isinstance(step, ParallelStep):
            position.update({branch.key: index for branch in step.branches})
    return position


def _passed(
    asked: Iterable[_Asked], began: datetime, position: dict[str, int], gate: int, step: str
) -> str | None:
    """Why the gate did not let ``step`` through at ``began``, or None if it did."""
    before = [a for a in asked if a.created_at <= began]
    if not before:
        return "the gate was never asked before it"
    latest = max(before, key=lambda a: a.attempt)
    if latest.decided_at is None or latest.decided_at > began:
        return f"its approval (attempt {latest.attempt}) was not decided yet"
    if latest.status == "approved":
        return None
    policy = {"rejected": "on_reject", "expired": "on_timeout"}.get(latest.status)
    rule = str(latest.policy.get(policy, "fail")) if policy else "fail"
    if rule == "skip":
        return None
    if rule.startswith("goto:"):
        target = position.get(rule.removeprefix("goto:"), -1)
        if gate < target <= position[step]:
            return None
    return f"its approval (attempt {latest.attempt}) was {latest.status} ({policy}: {rule})"


# -- the model is not paid twice ---------------------------------------------------------------


def llm_calls(
    engine: sa.Engine, requests: Mapping[str, int], *, crashes: int = 0
) -> list[Violation]:
    """Per model: requests the LLM server answered <= LLM calls persisted in agent runs +
    failed attempts recorded (ai_error_logs ``llm.*``) + one per crash."""
    persisted = {
        row.model: int(row.calls)
        for row in _rows(engine, "SELECT model, sum(llm_calls) AS calls FROM agent_runs GROUP BY 1")
    }
    failed = {
        row.model: int(row.n)
        for row in _rows(
            engine,
            "SELECT error_context->>'model' AS model, count(*) AS n FROM ai_error_logs "
            "WHERE error_type LIKE 'llm.%' GROUP BY 1",
        )
    }
    found = []
    for model, count in sorted(requests.items()):
        bound = persisted.get(model, 0) + failed.get(model, 0) + crashes
        if count > bound:
            found.append(
                Violation(
                    "llm_calls",
                    f"model {model}",
                    f"{count} requests reached the LLM, more than {persisted.get(model, 0)} "
                    f"persisted calls + {failed.get(model, 0)} failed attempts + {crashes} "
                    f"crash(es)",
                )
            )
    return found


# -- events in order ---------------------------------------------------------------------------


def event_order(engine: sa.Engine) -> list[Violation]:
    """Per task, a later event id never carries an earlier time: two writers overlapped, and a
    reader following ``id > last`` could miss the one that committed late."""
    found = []
    for row in _rows(
        engine,
        "SELECT task_id, id, created_at, previous_at FROM (SELECT task_id, id, created_at, "
        "lag(created_at) OVER (PARTITION BY task_id ORDER BY id) AS previous_at "
        "FROM event_logs WHERE task_id IS NOT NULL) e WHERE previous_at > created_at",
    ):
        found.append(
            Violation(
                "event_order",
                f"task {row.task_id}",
                f"event {row.id} was written at {row.created_at}, before the event with the "
                f"id before it ({row.previous_at})",
            )
        )
    return found
