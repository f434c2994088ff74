"""``agentworker pipeline install | start``, ``interviews list | show | answer`` and ``board
show``: seed 004's orchestrator pipeline from the shell (``worker.workflows.pipeline``)."""

from __future__ import annotations

import json
from typing import Any

import click
import sqlalchemy as sa

from worker.cli.output import as_json, table
from worker.cli.scoping import tenant_transaction


@click.group()
def pipeline() -> None:
    """Seed 004's orchestrator: interview → prompts → a board → commits."""


@pipeline.command("install")
@click.option("--tenant", required=True, help="Tenant id or slug.")
def install(tenant: str) -> None:
    """Give the tenant the pipeline's agents and the orchestrator_pipeline workflow."""
    from worker.workflows.pipeline import PIPELINE_WORKFLOW, install_pipeline

    with tenant_transaction(tenant) as (connection, _):
        installed = install_pipeline(connection, tenant)
    made = ", ".join(installed.agents_created) or "none (all there)"
    click.echo(
        f"workflow {PIPELINE_WORKFLOW} v{installed.workflow_version}; agents created: {made}"
    )


@pipeline.command("start")
@click.option("--tenant", required=True, help="Tenant id or slug.")
@click.option("--project", "project_name", required=True, help="The project's name (made if new).")
@click.option("--description", help="What the project is, for a new one.")
@click.option("--json", "as_json_output", is_flag=True)
def start(tenant: str, project_name: str, description: str | None, as_json_output: bool) -> None:
    """Start the pipeline for a project; print the execution and the project."""
    from models import Project
    from worker.client import AgentWorkerClient
    from worker.workflows.pipeline import PIPELINE_WORKFLOW

    with tenant_transaction(tenant) as (connection, tenant_id):
        project_id = connection.execute(
            sa.select(Project.id).where(Project.name == project_name).limit(1)
        ).scalar_one_or_none()
        if project_id is None:
            project_id = connection.execute(
                sa.insert(Project.__table__)
                .values(tenant_id=tenant_id, name=project_name, description=description)
                .returning(Project.id)
            ).scalar_one()
    client = AgentWorkerClient.from_env(tenant=tenant)
    try:
        execution_id = client.start_workflow(
            tenant=tenant, workflow=PIPELINE_WORKFLOW, input={"project_id": str(project_id)}
        )
    finally:
        client.close()
    result = {"execution_id": str(execution_id), "project_id": str(project_id)}
    click.echo(
        as_json(result) if as_json_output else f"execution {execution_id} (project {project_id})"
    )


@click.group()
def interviews() -> None:
    """Requirement interviews: the questions waiting for you, and your answers."""


@interviews.command("list")
@click.option("--tenant", required=True, help="Tenant id or slug.")
@click.option("--all", "everything", is_flag=True, help="Ended interviews too.")
@click.option("--json", "as_json_output", is_flag=True)
def list_(tenant: str, everything: bool, as_json_output: bool) -> None:
    """Interviews, newest first, with the question each waits on."""
    from models import Interview, InterviewStatus, Project
    from worker.orchestrator import InterviewState

    with tenant_transaction(tenant) as (connection, _):
        query = (
            sa.select(Interview.__table__, Project.name.label("project"))
            .join(Project, Project.id == Interview.project_id)
            .order_by(Interview.created_at.desc())
            .limit(200)
        )
        if not everything:
            query = query.where(Interview.status == InterviewStatus.ACTIVE)
        rows = connection.execute(query).all()
    listed = [(row, InterviewState.of(row)) for row in rows]
    if as_json_output:
        click.echo(
            as_json(
                [
                    {
                        "id": str(state.id),
                        "project": row.project,
                        "status": state.status.value,
                        "waiting_question": state.waiting_question,
                    }
                    for row, state in listed
                ]
            )
        )
        return
    click.echo(
        table(
            [
                (
                    state.id,
                    row.project,
                    state.status.value,
                    (state.waiting_question or {}).get("question", "-"),
                    _short((state.waiting_question or {}).get("content", "-")),
                )
                for row, state in listed
            ],
            ["id", "project", "status", "question", "waiting on"],
        )
    )


@interviews.command("show")
@click.argument("interview_id")
@click.option("--tenant", required=True, help="Tenant id or slug.")
def show(interview_id: str, tenant: str) -> None:
    """The conversation so far and the question waiting, with its answer schema."""
    from worker.orchestrator import OrchestratorError

    client = _client(tenant)
    try:
        state = client.interview(interview_id, tenant=tenant)
    except OrchestratorError as error:
        raise click.ClickException(str(error)) from error
    finally:
        client.close()
    click.echo(f"interview {state.id}: {state.status.value}")
    click.echo(state.transcript())
    if state.waiting_question is not None:
        schema = json.dumps(state.waiting_question.get("answer_schema"))
        click.echo(f"waiting for the answer to question {state.waiting_question['question']}")
        click.echo(f"(it must match {schema})")


@interviews.command("answer")
@click.argument("interview_id")
@click.argument("answer")
@click.option("--tenant", required=True, help="Tenant id or slug.")
@click.option("--json", "answer_is_json", is_flag=True, help="ANSWER is JSON, not text.")
@click.option("--question", type=int, help="The question's number, to answer no other.")
@click.option("--as", "actor", help="Who answers (default: you at the CLI).")
def answer(
    interview_id: str,
    answer: str,
    tenant: str,
    answer_is_json: bool,
    question: int | None,
    actor: str | None,
) -> None:
    """Answer the question waiting (checked against its schema; a refusal changes nothing)."""
    from worker.orchestrator import OrchestratorError

    value: Any = answer
    if answer_is_json:
        try:
            value = json.loads(answer)
        except ValueError as error:
            raise click.BadParameter(f"not JSON: {error}", param_hint="ANSWER") from None
    client = _client(tenant)
    try:
        state = client.answer_interview(
            interview_id, value, question=question, tenant=tenant, actor=actor
        )
    except OrchestratorError as error:
        raise click.ClickException(str(error)) from error
    finally:
        client.close()
    click.echo(f"answered question {len(state.answers)} of interview {state.id}")


@click.group()
def board() -> None:
    """A project's Kanban board (seed 004's tasks)."""


@board.command("show")
@click.option("--tenant", required=True, help="Tenant id or slug.")
@click.option("--project", "project_name", required=True, help="The project's name.")
@click.option("--json", "as_json_output", is_flag=True)
def show_board(tenant: str, project_name: str, as_json_output: bool) -> None:
    """The project's cards in board order, with their commits."""
    from models import Commit, Project
    from worker.orchestrator import cards_of

    with tenant_transaction(tenant) as (connection, _):
        project_id = connection.execute(
            sa.select(Project.id).where(Project.name == project_name).limit(1)
        ).scalar_one_or_none()
        if project_id is None:
            raise click.BadParameter(f"no project {project_name!r}", param_hint="--project")
        cards = cards_of(connection, project_id)
        commits = dict(
            connection.execute(
                sa.select(Commit.board_task_id, Commit.message).where(
                    Commit.project_id == project_id
                )
            ).all()
        )
    rows = [
        (c.status.value, c.position, _short(c.title), _short(commits.get(c.id, "-"))) for c in cards
    ]
    if as_json_output:
        click.echo(
            as_json(
                [dict(zip(("status", "order", "title", "commit"), r, strict=True)) for r in rows]
            )
        )
        return
    click.echo(table(rows, ["status", "order", "title", "commit"]))


def _client(tenant: str) -> Any:
    from worker.client import AgentWorkerClient

    return AgentWorkerClient.from_env(tenant=tenant)


def _short(value: Any, width: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value)
    text = text.splitlines()[0] if text else text
    return text if len(text) <= width else text[: width - 1] + "…"
