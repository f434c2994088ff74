"""What an approver needs beside the question: the conversation so far, the earlier steps'
outputs, who asked and why, and what approve, reject and timeout will each do.

``approval_context`` reads inside the approval's tenant scope (the caller's) and returns a
frozen view; long texts are cut to ``MAX_TEXT`` characters, the conversation to its last
``MAX_MESSAGES`` messages.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from models import (
    AIWorkflowExecution,
    AIWorkflowStepRun,
    AIWorkflowVersion,
    Approval,
    ApprovalKind,
    Task,
)
from worker.approvals.views import ApprovalView
from worker.durable import conversation
from worker.security.redact import redact

__all__ = ["ApprovalContext", "Message", "Outcome", "StepOutput", "approval_context"]

MAX_TEXT = 4000
MAX_MESSAGES = 40
_LAST = datetime.max.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Message:
    role: str
    content: str
    #: Tool calls the message asked for, each "name(arguments)".
    tool_calls: tuple[str, ...] = ()


@dataclass(frozen=True)
class StepOutput:
    key: str
    kind: str
    status: str
    output: str | None
    finished_at: datetime | None


@dataclass(frozen=True)
class Outcome:
    """What a decision (``approve``, ``reject``, ``timeout``) will do."""

    decision: str
    effect: str


@dataclass(frozen=True)
class ApprovalContext:
    task_title: str | None
    task_input: str | None
    task_status: str | None
    execution_status: str | None
    execution_input: str | None
    conversation: tuple[Message, ...]
    omitted_messages: int
    steps: tuple[StepOutput, ...]
    outcomes: tuple[Outcome, ...]
    arguments_schema: dict[str, Any] | None


def approval_context(connection: sa.Connection, view: ApprovalView) -> ApprovalContext:
    row = connection.execute(
        sa.select(Approval.arguments_schema, Approval.policy).where(Approval.id == view.id)
    ).one()
    task = _task(connection, view.task_id)
    messages, omitted = _conversation(connection, view.agent_run_id)
    execution_id = view.workflow_execution_id or (task.workflow_execution_id if task else None)
    execution = _execution(connection, execution_id)
    steps = _steps(connection, execution_id, view.step_key)
    return ApprovalContext(
        task_title=task.title if task else None,
        task_input=_cut(task.input_prompt) if task and task.input_prompt else None,
        task_status=str(task.status) if task else None,
        execution_status=str(execution.status) if execution else None,
        execution_input=_text(redact(execution.input_data)) if execution else None,
        conversation=messages,
        omitted_messages=omitted,
        steps=steps,
        outcomes=_outcomes(connection, view, row.policy or {}, execution),
        arguments_schema=row.arguments_schema,
    )


def _task(connection: sa.Connection, task_id: uuid.UUID | None) -> sa.Row[Any] | None:
    if task_id is None:
        return None
    row: Any = connection.execute(
        sa.select(Task.title, Task.input_prompt, Task.status, Task.workflow_execution_id).where(
            Task.id == task_id
        )
    ).one_or_none()
    return row


def _conversation(
    connection: sa.Connection, agent_run_id: uuid.UUID | None
) -> tuple[tuple[Message, ...], int]:
    if agent_run_id is None:
        return (), 0
    shown, total = conversation.tail(connection, agent_run_id, MAX_MESSAGES)
    return tuple(_message(m) for m in shown if isinstance(m, dict)), total - len(shown)


def _message(message: dict[str, Any]) -> Message:
    content = message.get("content")
    if isinstance(content, list):  # content parts
        content = " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
    calls = []
    for call in message.get("tool_calls") or []:
        function = call.get("function", {}) if isinstance(call, dict) else {}
        calls.append(f"{function.get('name', '?')}({_cut(str(function.get('arguments', '')))})")
    return Message(
        role=str(message.get("role", "?")),
        content=_cut(content if isinstance(content, str) else _text(content or "")),
        tool_calls=tuple(calls),
    )


def _execution(connection: sa.Connection, execution_id: uuid.UUID | None) -> sa.Row[Any] | None:
    if execution_id is None:
        return None
    return connection.execute(
        sa.select(
            AIWorkflowExecution.status,
            AIWorkflowExecution.input_data,
            AIWorkflowExecution.workflow_version_id,
        ).where(AIWorkflowExecution.id == execution_id)
    ).one_or_none()


def _steps(
    connection: sa.Connection, execution_id: uuid.UUID | None, current: str | None
) -> tuple[StepOutput, ...]:
    """The execution's steps that have run, latest attempt each, in the order they started."""
    if execution_id is None:
        return ()
    runs = connection.execute(
        sa.select(
            AIWorkflowStepRun.step_key,
            AIWorkflowStepRun.step_kind,
            AIWorkflowStepRun.status,
            AIWorkflowStepRun.output,
            AIWorkflowStepRun.error,
            AIWorkflowStepRun.finished_at,
        )
        .where(AIWorkflowStepRun.execution_id == execution_id)
        .order_by(AIWorkflowStepRun.attempt)
    ).all()
    latest = {run.step_key: run for run in runs}  # the last attempt of each step wins
    ordered = sorted(latest.values(), key=lambda r: (r.finished_at is None, r.finished_at or _LAST))
    return tuple(
        StepOutput(
            key=run.step_key,
            kind=run.step_kind,
            status=str(run.status),
            output=_text(redact(run.output)) if run.output is not None else run.error,
            finished_at=run.finished_at,
        )
        for run in ordered
        if run.step_key != current
    )


def _outcomes(
    connection: sa.Connection,
    view: ApprovalView,
    policy: dict[str, Any],
    execution: sa.Row[Any] | None,
) -> tuple[Outcome, ...]:
    expiry = f"at {view.expires_at:%Y-%m-%d %H:%M:%S %Z}" if view.expires_at is not None else None
    if view.kind == ApprovalKind.TOOL_CALL:
        tool = view.payload.get("tool", "the tool")
        quorum = f" once {view.quorum} approvers have approved" if view.quorum > 1 else ""
        return (
            Outcome(
                "approve",
                f"The agent runs '{tool}' with the arguments shown (or your edit of them){quorum}, "
                "then its run continues.",
            ),
            Outcome(
                "reject",
                f"'{tool}' does not run; the agent is told a person rejected it (with your "
                "comment) and its run continues without it.",
            ),
            Outcome(
                "timeout",
                f"If nobody decides, the approval expires {expiry}; '{tool}' does not run and the "
                "agent is told so."
                if expiry
                else "This approval does not expire: the run waits until someone decides.",
            ),
        )
    following = _following_step(connection, execution, view.step_key)
    approve = (
        f"The workflow continues with step '{following}'."
        if following
        else "The workflow continues (this is its last step, so it completes)."
    )
    timeout = (
        f"If nobody decides, the approval expires {expiry}; then "
        + _policy_effect(policy.get("on_timeout", "fail"), following).lower()
        if expiry
        else "This approval does not expire: the workflow waits until someone decides."
    )
    return (
        Outcome("approve", approve),
        Outcome("reject", _policy_effect(policy.get("on_reject", "fail"), following)),
        Outcome("timeout", timeout),
    )


def _policy_effect(policy: str, following: str | None) -> str:
    if policy == "skip":
        return (
            f"The step is skipped and the workflow continues with step '{following}'."
            if following
            else "The step is skipped and the workflow completes."
        )
    if policy.startswith("goto:"):
        target = policy.removeprefix("goto:")
        return f"The workflow goes to step '{target}' and runs again from there."
    return "The workflow execution fails and stops here."


def _following_step(
    connection: sa.Connection, execution: sa.Row[Any] | None, step_key: str | None
) -> str | None:
    if execution is None or step_key is None:
        return None
    steps = connection.execute(
        sa.select(AIWorkflowVersion.steps).where(
            AIWorkflowVersion.id == execution.workflow_version_id
        )
    ).scalar_one_or_none()
    keys = [s.get("key") for s in steps or [] if isinstance(s, dict)]
    if step_key not in keys or keys.index(step_key) + 1 >= len(keys):
        return None
    return str(keys[keys.index(step_key) + 1])


def _text(value: Any) -> str:
    if isinstance(value, str):
        return _cut(value)
    return _cut(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def _cut(text: str) -> str:
    return (
        text
        if len(text) <= MAX_TEXT
        else text[:MAX_TEXT] + f"… ({len(text) - MAX_TEXT} more characters)"
    )
