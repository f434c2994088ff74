"""``agentworker demo`` (``make demo``): the main job, end to end, on a machine with nothing.

Starts what the environment lacks (PostgreSQL + pgvector, Redis, and the local stand-in LLM,
used on purpose: AGENTWORKER_LOCAL_LLM=1), migrates, seeds, ingests a brief into the knowledge
base, starts a worker, submits a job through the public contract
(``send_task("agents.run_task", kwargs=…)``), shows its events live, prints the result and the
rows written, then runs the Conference Planning Crew to its approval, shows the approvers' inbox
URL with a demo approver's sign-in, approves (through the CLI, or, with ``--inbox``, waits for
you to decide in the browser), then approves the speaker scout's invitation email the same way,
shows the rows the crew wrote (its insights and recommendations for the organisers too) and
shuts everything down.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

import click
import sqlalchemy as sa

from models.db import create_sync_engine, sync_session_factory
from worker.agents.knowledge import ingest
from worker.app import create_app
from worker.cli.demo_approver import demo_approver_sign_in
from worker.cli.demo_output import run_cli, step
from worker.cli.demo_pipeline import run_pipeline
from worker.cli.output import table
from worker.cli.tasks import describe, follow
from worker.cli.workflows import describe_execution, follow_execution
from worker.client import AgentWorkerClient
from worker.core.contract import IngestKnowledgeRequest
from worker.core.settings import Settings
from worker.dev.api_process import (
    ApiProcess,
    start_api_process,
    wait_for_api,
)
from worker.dev.seed import DEMO_EVENT_BRIEF, DEMO_TENANT_SLUG, seed_demo
from worker.dev.services import (
    free_port,
    local_services,
    start_worker_process,
    stop_process,
    wait_for_worker,
)
from worker.durable import schema
from worker.durable.publishing import CeleryPublisher
from worker.llm.gateway import LLMGateway

QUESTION = "Where is AgentConf Lisbon 2027 held, and how many attendees are expected?"
BRIEF_DOCUMENT = (
    "AgentConf Lisbon 2027 brief. The conference runs {dates} in {city}. We expect "
    "{expected_attendees} attendees and plan a budget of {budget} {currency}. Themes: {themes}. "
    "Venue preference: {venue_pref}."
).format(**{**DEMO_EVENT_BRIEF, "themes": ", ".join(DEMO_EVENT_BRIEF["themes"])})


@click.command()
@click.option("--keep", is_flag=True, help="Keep the demo's data directory afterwards.")
@click.option(
    "--inbox",
    "decide_in_inbox",
    is_flag=True,
    help="Wait for you to decide the crew's approval in the inbox instead of approving it "
    "through the CLI.",
)
def demo(keep: bool, decide_in_inbox: bool) -> None:
    """Run one agent job end to end on embedded services, then shut everything down."""
    data_dir = Path(tempfile.mkdtemp(prefix="agentworker-demo-"))
    step("starting services")
    with local_services(data_dir, persistent=False) as services:
        for line in services.started or ["(all services from the environment)"]:
            click.echo(f"    {line}")
        settings = Settings.from_env(services.worker_env())

        step("migrating and seeding")
        schema.upgrade(services.database_url)
        engine = create_sync_engine(services.database_url)
        with sync_session_factory(engine)() as session:
            seeded = seed_demo(session)
        click.echo(f"    tenant '{seeded.tenant_slug}' with users, agents, a workflow, an event")
        gateway = LLMGateway(settings)
        result = ingest(
            engine,
            settings,
            gateway,
            IngestKnowledgeRequest(
                tenant=DEMO_TENANT_SLUG, name="event brief", text=BRIEF_DOCUMENT
            ),
        )
        gateway.close()
        click.echo(f"    knowledge base: the event brief in {result.chunks} chunk(s)")

        step("starting a worker (threads pool)")
        log_path = data_dir / "worker.log"
        worker = start_worker_process(services.worker_env(), log_path, concurrency=8)
        api_log = data_dir / "api.log"
        api = start_api_process(services.worker_env(), api_log, free_port())
        app = create_app(services.broker_url)
        try:
            wait_for_worker(app, worker, log_path)
            wait_for_api(api, api_log)
            click.echo(f"    ready (logs: {log_path}, {api_log})")
            _run_job(app, engine, settings)
            _run_workflow(app, engine, settings, services.worker_env(), api, decide_in_inbox)
            run_pipeline(app, engine, settings, services.worker_env())
        finally:
            step("shutting down")
            stop_process(api.process)
            stop_process(worker)
            engine.dispose()
    if not keep:
        import shutil

        shutil.rmtree(data_dir, ignore_errors=True)
    click.echo("done.")


def _run_job(app: object, engine: sa.Engine, settings: Settings) -> None:
    payload = {"tenant": DEMO_TENANT_SLUG, "agent": "assistant", "input": QUESTION}
    step("submitting through the public contract")
    click.echo(f'    send_task("agents.run_task", kwargs={payload}, queue="agents")')
    message = app.send_task("agents.run_task", kwargs=payload, queue="agents")  # type: ignore[attr-defined]
    client = AgentWorkerClient(engine, CeleryPublisher(app), settings, tenant=DEMO_TENANT_SLUG)
    task_id = _task_for_message(engine, message.id)

    step(f"events of task {task_id}, live")
    started = time.monotonic()
    task = follow(client, task_id, timeout=120)
    step(f"result ({time.monotonic() - started:.2f}s)")
    click.echo(describe(task))

    step("rows written for this task")
    counts = _rows_written(engine, task_id)
    click.echo(table(list(counts.items()), ["table", "rows"]))
    if task.error:
        raise click.ClickException(f"the demo job failed: {task.error}")


def _run_workflow(
    app: Any,
    engine: sa.Engine,
    settings: Settings,
    env: dict[str, str],
    api: ApiProcess,
    decide_in_inbox: bool,
) -> None:
    with engine.connect() as connection:
        event_id = connection.execute(sa.text("SELECT id FROM events LIMIT 1")).scalar_one()
    payload = {
        "tenant": DEMO_TENANT_SLUG,
        "workflow": "conference_planning_crew",
        "input": {"brief": BRIEF_DOCUMENT, "event_id": str(event_id)},
    }
    step("starting the Conference Planning Crew workflow")
    click.echo(
        '    send_task("workflows.start", kwargs={"tenant": "acme", "workflow": '
        '"conference_planning_crew", "input": {...}}, queue="workflows")'
    )
    app.send_task("workflows.start", kwargs=payload, queue="workflows")
    client = AgentWorkerClient(engine, CeleryPublisher(app), settings, tenant=DEMO_TENANT_SLUG)
    execution_id = _execution_for(engine)
    view, last = follow_execution(client, execution_id, until={"awaiting_approval", "failed"})
    if view.status.value == "failed":
        raise click.ClickException(f"the workflow failed: {view.error}")

    step("it waits for a person (no worker slot is held); the approver's queue:")
    run_cli(env, "approvals", "list", "--tenant", DEMO_TENANT_SLUG)
    approval_id = client.approvals(tenant=DEMO_TENANT_SLUG)[0].id
    email, password = demo_approver_sign_in(engine)
    step("the approvers' inbox shows it too:")
    click.echo(f"    {api.url}/inbox/approvals/{approval_id}")
    click.echo(f"    (sign in as {email}, password {password})")
    if decide_in_inbox:
        step("waiting for your decision in the inbox (Ctrl-C stops the demo)")
    else:
        step("approving it through the CLI")
        run_cli(
            env,
            "approvals",
            "approve",
            str(approval_id),
            "--user",
            email,
            "--comment",
            "Shortlist looks good",
        )
    invitation = _pending_tool_approval(client, timeout=24 * 3600 if decide_in_inbox else 60)
    step("the speaker scout's invitation email waits for approval too (nothing is sent before):")
    run_cli(env, "approvals", "show", str(invitation))
    if decide_in_inbox:
        click.echo(f"    {api.url}/inbox/approvals/{invitation}")
    else:
        run_cli(
            env, "approvals", "approve", str(invitation), "--user", email, "--comment", "Send it"
        )
    view, _ = follow_execution(
        client,
        execution_id,
        until={"completed", "failed", "cancelled"},
        after=last,
        timeout=24 * 3600 if decide_in_inbox else 120,
    )
    step(f"workflow {view.status.value}")
    click.echo(describe_execution(view))
    step("rows the crew wrote for the event")
    with engine.connect() as connection:
        counts = [
            (
                table,
                connection.execute(
                    sa.text(f"SELECT count(*) FROM {table} WHERE event_id = :e"), {"e": event_id}
                ).scalar_one(),
            )
            for table in (
                "venues",
                "speakers",
                "sponsors",
                "budgets",
                "ai_insights",
                "ai_recommendations",
            )
        ]
    click.echo(table(counts, ["table", "rows"]))
    if view.status.value != "completed":
        raise click.ClickException(f"the workflow did not complete: {view.error}")


def _pending_tool_approval(client: AgentWorkerClient, timeout: float) -> str:
    """The first pending tool-call approval of the demo tenant, once one is asked for."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for approval in client.approvals(tenant=DEMO_TENANT_SLUG):
            if approval.kind.value == "tool_call":
                return str(approval.id)
        time.sleep(0.2)
    raise click.ClickException(f"no tool call asked for an approval in {timeout:.0f}s")


def _execution_for(engine: sa.Engine, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.connect() as connection:
            found = connection.execute(
                sa.text("SELECT id FROM ai_workflow_executions ORDER BY created_at DESC LIMIT 1")
            ).scalar_one_or_none()
        if found is not None:
            return str(found)
        time.sleep(0.1)
    raise click.ClickException(f"the worker did not start the workflow in {timeout}s")


def _task_for_message(engine: sa.Engine, message_id: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.connect() as connection:
            found = connection.execute(
                sa.text("SELECT id FROM tasks WHERE broker_message_id = :m"), {"m": message_id}
            ).scalar_one_or_none()
        if found is not None:
            return str(found)
        time.sleep(0.1)
    raise click.ClickException(f"the worker did not pick up message {message_id} in {timeout}s")


def _rows_written(engine: sa.Engine, task_id: str) -> dict[str, int]:
    queries = {
        "tasks": "SELECT count(*) FROM tasks WHERE id = :t",
        "agent_runs": "SELECT count(*) FROM agent_runs WHERE task_id = :t",
        "event_logs": "SELECT count(*) FROM event_logs WHERE task_id = :t",
        "action_logs": "SELECT count(*) FROM action_logs WHERE task_id = :t",
        "ai_performance_metrics": "SELECT count(*) FROM ai_performance_metrics "
        "WHERE measurement_context->>'task_id' = :t",
    }
    with engine.connect() as connection:
        return {
            name: connection.execute(sa.text(sql), {"t": task_id}).scalar_one()
            for name, sql in queries.items()
        }


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print what was created as JSON.")
def seed(as_json: bool) -> None:
    """Insert the demo tenant, users, agents, workflow and event (idempotent)."""
    engine = create_sync_engine()
    try:
        schema.assert_schema_current(engine)
        with sync_session_factory(engine)() as session:
            summary = seed_demo(session)
    finally:
        engine.dispose()
    if as_json:
        click.echo(json.dumps({"tenant": summary.tenant_slug, "created": summary.created}))
    elif summary.created_anything:
        made = ", ".join(f"{n} {table}" for table, n in sorted(summary.created.items()))
        click.echo(f"seeded tenant '{summary.tenant_slug}': created {made}")
    else:
        click.echo(f"tenant '{summary.tenant_slug}' already seeded: nothing to do")
