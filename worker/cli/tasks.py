"""``agentworker submit | status | events | cancel``."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import click

from models import TaskStatus
from worker.cli.output import as_json, event_line
from worker.client import AgentWorkerClient, TaskView
from worker.durable import event_order

_TERMINAL = {TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELLED}


@click.command()
@click.option("--tenant", required=True, help="Tenant id or slug.")
@click.option("--agent", required=True, help="Agent name.")
@click.option("--input", "text", help="The input as text.")
@click.option("--json-input", help="The input as a JSON object.")
@click.option("--idempotency-key", help="A second submit with this key returns the first task.")
@click.option("--priority", type=click.IntRange(0, 9), default=0, show_default=True)
@click.option("--wait", is_flag=True, help="Follow the task's events until it finishes.")
@click.option("--json", "as_json_output", is_flag=True, help="Print JSON.")
def submit(
    tenant: str,
    agent: str,
    text: str | None,
    json_input: str | None,
    idempotency_key: str | None,
    priority: int,
    wait: bool,
    as_json_output: bool,
) -> None:
    """Submit a job (agents.run_task) and print its task id."""
    if (text is None) == (json_input is None):
        raise click.UsageError("give the input as exactly one of --input or --json-input")
    payload: Any = text
    if json_input is not None:
        try:
            payload = json.loads(json_input)
        except ValueError as error:
            raise click.BadParameter(f"not JSON: {error}", param_hint="--json-input") from None
    client = AgentWorkerClient.from_env(tenant=tenant)
    try:
        submitted = client.submission(
            tenant=tenant,
            agent=agent,
            input=payload,
            idempotency_key=idempotency_key,
            priority=priority,
        )
        if as_json_output:
            click.echo(as_json({"task_id": str(submitted.task_id), "created": submitted.created}))
        else:
            note = "" if submitted.created else " (already submitted with this key)"
            click.echo(f"task {submitted.task_id}{note}")
        if wait:
            final = follow(client, submitted.task_id, as_json_output=as_json_output)
            raise SystemExit(0 if final.status == TaskStatus.SUCCEEDED else 1)
    finally:
        client.close()


_TENANT_HELP = "The task's tenant (id or slug); another tenant's task is not found."


@click.command()
@click.argument("task_id")
@click.option("--tenant", required=True, help=_TENANT_HELP)
@click.option("--json", "as_json_output", is_flag=True, help="Print JSON.")
def status(task_id: str, tenant: str, as_json_output: bool) -> None:
    """Show a task's status, result or error. Exit 1 if it failed or was cancelled."""
    client = AgentWorkerClient.from_env(tenant=tenant)
    try:
        task = client.get_task(task_id)
    finally:
        client.close()
    if as_json_output:
        click.echo(as_json(task))
    else:
        click.echo(describe(task))
    if task.status in (TaskStatus.FAILED, TaskStatus.CANCELLED):
        raise SystemExit(1)


@click.command()
@click.argument("task_id")
@click.option("--tenant", required=True, help=_TENANT_HELP)
@click.option(
    "--follow",
    "-f",
    "keep_following",
    is_flag=True,
    help="Keep printing new events until the task ends.",
)
@click.option("--json", "as_json_output", is_flag=True, help="One JSON object per line.")
def events(task_id: str, tenant: str, keep_following: bool, as_json_output: bool) -> None:
    """Print a task's events in order."""
    client = AgentWorkerClient.from_env(tenant=tenant)
    try:
        if keep_following:
            follow(client, task_id, as_json_output=as_json_output)
        else:
            for event in client.events(task_id):
                click.echo(as_json(event) if as_json_output else event_line(event))
    finally:
        client.close()


def follow(
    client: AgentWorkerClient,
    task_id: uuid.UUID | str,
    *,
    as_json_output: bool = False,
    poll_seconds: float = 0.2,
    timeout: float | None = None,
) -> TaskView:
    """Print events as they are written until the task ends; return its final state."""
    last, deadline = event_order.START, (time.monotonic() + timeout) if timeout else None
    while True:
        task = client.get_task(task_id)  # the state first: then every event before it is read
        page = client.event_page(task_id, after=last)
        for event in page.events:
            click.echo(as_json(event) if as_json_output else event_line(event))
        last = page.last or last
        if task.status in _TERMINAL and not page.held:
            return task
        if deadline is not None and time.monotonic() > deadline:
            raise click.ClickException(f"task {task_id} still {task.status} after {timeout}s")
        time.sleep(poll_seconds)


def describe(task: TaskView) -> str:
    lines = [
        f"task      {task.id}",
        f"status    {task.status.value}",
        f"agent     {task.agent_name or '-'}",
        f"attempts  {task.attempts}",
        f"created   {task.created_at:%Y-%m-%d %H:%M:%S}",
    ]
    if task.finished_at is not None:
        lines.append(f"finished  {task.finished_at:%Y-%m-%d %H:%M:%S}")
    if task.error:
        lines.append(f"error     {task.error}")
    if task.result is not None:
        output = task.result.get("output") if isinstance(task.result, dict) else task.result
        rendered = output if isinstance(output, str) else json.dumps(output, indent=2)
        lines.append(f"result    {rendered}")
    return "\n".join(lines)


@click.command()
@click.argument("target_id")
@click.option(
    "--tenant",
    required=True,
    help="The tenant (id or slug) whose task or execution it is; another's is not found.",
)
@click.option("--reason", default="cancelled by an operator", show_default=True)
def cancel(target_id: str, tenant: str, reason: str) -> None:
    """Cancel a task or a workflow execution (work in flight stops at its next checkpoint)."""
    client = AgentWorkerClient.from_env(tenant=tenant)
    try:
        result = client.cancel(target_id, reason=reason)
    finally:
        client.close()
    if result.changed:
        click.echo(f"{result.kind} {result.id} cancelled")
    else:
        click.echo(f"{result.kind} {result.id} had already ended; nothing to cancel")
