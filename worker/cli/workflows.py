"""``agentworker workflows save | start | status | fork``."""

from __future__ import annotations

import json
import time
from typing import Any

import click

from models import WorkflowType
from worker.cli.output import as_json, event_line
from worker.client import AgentWorkerClient, ExecutionView
from worker.core.errors import AgentWorkerError
from worker.workflows.catalog import define_workflow


@click.group()
def workflows() -> None:
    """Multi-step workflows (ai_workflows) and their executions."""


@workflows.command("start")
@click.option("--tenant", required=True)
@click.option("--workflow", required=True, help="The workflow's name.")
@click.option("--json-input", default="{}", show_default=True, help="The input, a JSON object.")
@click.option("--idempotency-key")
@click.option("--json", "as_json_output", is_flag=True)
def start(
    tenant: str, workflow: str, json_input: str, idempotency_key: str | None, as_json_output: bool
) -> None:
    """Start an execution; print its id."""
    try:
        payload: Any = json.loads(json_input)
    except ValueError as error:
        raise click.BadParameter(f"not JSON: {error}", param_hint="--json-input") from None
    client = AgentWorkerClient.from_env(tenant=tenant)
    try:
        execution_id = client.start_workflow(
            tenant=tenant, workflow=workflow, input=payload, idempotency_key=idempotency_key
        )
    finally:
        client.close()
    click.echo(
        as_json({"execution_id": str(execution_id)})
        if as_json_output
        else f"execution {execution_id}"
    )


@workflows.command("status")
@click.argument("execution_id")
@click.option(
    "--tenant",
    required=True,
    help="The execution's tenant (id or slug); another tenant's execution is not found.",
)
@click.option("--json", "as_json_output", is_flag=True)
def status(execution_id: str, tenant: str, as_json_output: bool) -> None:
    """An execution's status and its steps."""
    client = AgentWorkerClient.from_env(tenant=tenant)
    try:
        view = client.get_execution(execution_id)
    finally:
        client.close()
    click.echo(as_json(view) if as_json_output else describe_execution(view))


def describe_execution(view: ExecutionView) -> str:
    lines = [
        f"execution {view.id}",
        f"workflow  {view.workflow} v{view.version}",
        f"status    {view.status.value}",
        f"step      {view.current_step or '-'}",
    ]
    for key, step in view.steps.items():
        lines.append(f"  {key:<22} {step.get('status')}")
    if view.error:
        lines.append(f"error     {json.dumps(view.error)}")
    return "\n".join(lines)


def follow_execution(
    client: AgentWorkerClient,
    execution_id: Any,
    *,
    until: set[str],
    timeout: float = 120,
    after: int = 0,
) -> tuple[ExecutionView, int]:
    """Print the execution's events until its status is one of ``until``."""
    deadline = time.monotonic() + timeout
    last, cursor = after, client.event_cursor(execution_id, after)
    while True:
        view = client.get_execution(execution_id)  # the state first, then its events
        page = client.event_page(execution_id, after=cursor)
        for event in page.events:
            click.echo(event_line(event))
            last = event.id
        cursor = page.last or cursor
        if view.status.value in until and not page.held:
            return view, last
        if time.monotonic() > deadline:
            raise click.ClickException(f"execution {execution_id} still {view.status.value}")
        time.sleep(0.2)


@workflows.command("save")
@click.option("--tenant", help="Tenant id or slug; omit for a system-wide workflow.")
@click.option("--name", required=True)
@click.option(
    "--file",
    "path",
    required=True,
    type=click.File("r"),
    help="The steps, a JSON list (schema: worker/schemas/workflow-steps.v1.json).",
)
@click.option(
    "--type",
    "workflow_type",
    default="content_generation",
    show_default=True,
    type=click.Choice([t.value for t in WorkflowType]),
)
def save(tenant: str | None, name: str, path: Any, workflow_type: str) -> None:
    """Create a workflow or save new steps as its next version (running executions keep
    the version they started with)."""
    try:
        steps = json.load(path)
    except ValueError as error:
        raise click.BadParameter(f"not JSON: {error}", param_hint="--file") from None
    client = AgentWorkerClient.from_env()
    try:
        with client.engine.begin() as connection:
            workflow_id, version = define_workflow(
                connection,
                tenant=tenant,
                name=name,
                steps=steps,
                workflow_type=WorkflowType(workflow_type),
            )
    finally:
        client.close()
    click.echo(f"workflow '{name}' saved as version {version} ({workflow_id})")


@workflows.command("fork")
@click.argument("execution_id")
@click.option(
    "--at",
    "at",
    required=True,
    help="The step to re-run from: its number (from 1, in the workflow's order) or its key.",
)
@click.option(
    "--tenant",
    required=True,
    help="The execution's tenant (id or slug); another tenant's execution is not found.",
)
@click.option("--json", "as_json_output", is_flag=True)
def fork(execution_id: str, at: str, tenant: str, as_json_output: bool) -> None:
    """Re-run an ended execution from step --at as a new execution; the steps before it are
    not run again: their outputs are copied."""
    client = AgentWorkerClient.from_env(tenant=tenant)
    try:
        forked = client.fork_execution(execution_id, at=at)
    except AgentWorkerError as error:
        if error.code in {"configuration", "schema_out_of_date"}:
            raise
        raise click.ClickException(str(error)) from error
    finally:
        client.close()
    if as_json_output:
        click.echo(as_json(forked))
        return
    copied = ", ".join(forked.copied) or "nothing"
    click.echo(
        f"execution {forked.execution_id} from {forked.parent_execution_id} at step "
        f"{forked.at_number} ({forked.at_step}); copied: {copied}"
    )
