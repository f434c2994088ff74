"""``agentworker runs list | show | fork | replay``: a task's agent runs, a run's numbered
steps, and new runs made from a step of an ended one (``worker.agents.forks``)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import click

from worker.cli.output import as_json, table
from worker.client import AgentWorkerClient
from worker.core.errors import AgentWorkerError

_TENANT_HELP = "The run's tenant (id or slug); another tenant's run is not found."


@click.group()
def runs() -> None:
    """Agent runs: their steps, forks and replays."""


@contextmanager
def _client(tenant: str) -> Iterator[AgentWorkerClient]:
    """A client for ``tenant``; our refusals (unknown run, step out of range, …) become one
    line and exit 1."""
    client = AgentWorkerClient.from_env(tenant=tenant)
    try:
        yield client
    except AgentWorkerError as error:
        if error.code in {"configuration", "schema_out_of_date"}:
            raise
        raise click.ClickException(str(error)) from error
    finally:
        client.close()


@runs.command("list")
@click.option("--task", "task_id", required=True, help="The task whose runs to list.")
@click.option("--tenant", required=True, help=_TENANT_HELP)
@click.option("--json", "as_json_output", is_flag=True, help="Print JSON.")
def list_runs(task_id: str, tenant: str, as_json_output: bool) -> None:
    """A task's agent runs, oldest first, with how many steps each has."""
    with _client(tenant) as client:
        found = client.runs(task_id)
    if as_json_output:
        click.echo(as_json(found))
        return
    rows = [
        (
            r.id,
            r.status,
            r.agent_name,
            r.steps,
            r.llm_calls,
            f"{r.parent_run_id} @ {r.forked_at_step}" if r.parent_run_id else None,
        )
        for r in found
    ]
    click.echo(table(rows, ["run", "status", "agent", "steps", "llm calls", "forked from"]))


@runs.command("show")
@click.argument("run_id")
@click.option("--tenant", required=True, help=_TENANT_HELP)
@click.option("--messages", "with_messages", is_flag=True, help="Also print every message.")
@click.option("--json", "as_json_output", is_flag=True, help="Print JSON.")
def show(run_id: str, tenant: str, with_messages: bool, as_json_output: bool) -> None:
    """A run's steps, numbered as `runs fork --at` counts them: step 0 is the prompt and the
    input, step N the N-th model reply with the tool results it got back."""
    with _client(tenant) as client:
        found = client.run_steps(run_id)
    if as_json_output:
        click.echo(as_json(found))
        return
    click.echo(f"run       {found.run_id} ({found.status}, task {found.task_status})")
    click.echo(f"task      {found.task_id}")
    click.echo(f"agent     {found.agent_name}")
    if found.parent_run_id is not None:
        click.echo(f"forked    from {found.parent_run_id} at step {found.forked_at_step}")
    spent, budget = found.spend["spent"], found.spend["budget"]
    click.echo(
        f"spent     {spent['llm_calls']} LLM calls, {spent['tokens']} tokens, "
        f"${spent['cost_usd']}"
        + (
            ""
            if budget is None
            else " of budget "
            + ", ".join(f"{k} {v}" for k, v in budget.items() if k != "on_exceeded")
        )
    )
    rows = []
    for step in found.steps:
        if step.number == 0:
            said = "(the prompt and the input)"
        elif step.tool_calls:
            said = "tool calls: " + ", ".join(step.tool_calls)
            if not step.complete:
                said += f" ({step.results} of {len(step.tool_calls)} answered)"
        else:
            said = _short(step.reply or "")
        rows.append((step.number, f"{step.first_seq}-{step.last_seq}", said))
    click.echo(table(rows, ["step", "messages", "model"]))
    if with_messages:
        for seq, message in enumerate(found.messages, 1):
            content = message.get("content")
            text = content if isinstance(content, str) else json.dumps(message.get("tool_calls"))
            click.echo(f"{seq:>4} {message.get('role', '?'):<9} {_short(text or '', 140)}")


@runs.command("fork")
@click.argument("run_id")
@click.option("--at", "at_step", required=True, type=int, help="The step to fork after.")
@click.option(
    "--edit-message",
    help='JSON: {"content": "…"} replaces the last message at the fork point, '
    '{"seq": N, "content": "…"} message N; or a list of those.',
)
@click.option("--tenant", required=True, help=_TENANT_HELP)
@click.option("--json", "as_json_output", is_flag=True, help="Print JSON.")
def fork(
    run_id: str, at_step: int, edit_message: str | None, tenant: str, as_json_output: bool
) -> None:
    """Run a new copy of RUN from its step --at (no model call up to it is made again)."""
    edit: Any = None
    if edit_message is not None:
        try:
            edit = json.loads(edit_message)
        except ValueError as error:
            raise click.BadParameter(
                f'not JSON ({error}); give e.g. \'{{"content": "new text"}}\'',
                param_hint="--edit-message",
            ) from None
    _forked(
        tenant, as_json_output, lambda c: c.fork_run(run_id, at_step=at_step, edit_message=edit)
    )


@runs.command("replay")
@click.argument("run_id")
@click.option("--tenant", required=True, help=_TENANT_HELP)
@click.option("--json", "as_json_output", is_flag=True, help="Print JSON.")
def replay(run_id: str, tenant: str, as_json_output: bool) -> None:
    """Run a FAILED run again from its last good step, as a new run."""
    _forked(tenant, as_json_output, lambda c: c.replay_run(run_id))


def _forked(tenant: str, as_json_output: bool, make: Callable[[AgentWorkerClient], Any]) -> None:
    with _client(tenant) as client:
        forked = make(client)
    if as_json_output:
        click.echo(as_json(forked))
        return
    held = "" if forked.released else " (held behind the tenant's tasks in flight)"
    click.echo(
        f"run {forked.run_id} (task {forked.task_id}) from run {forked.parent_run_id} at step "
        f"{forked.at_step}{held}; follow it with `agentworker events {forked.task_id} "
        f"--tenant {tenant} --follow`"
    )


def _short(text: str, limit: int = 100) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
