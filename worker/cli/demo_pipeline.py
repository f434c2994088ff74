"""The demo's second half: seed 004's orchestrator pipeline on the same worker.

It installs the pipeline for the demo tenant, starts it for the seeded project, and a scripted
person answers the interview through the CLI (an answer that fails the question's schema is
shown refused first); the prompt engineer, the planner and the task executor work; the
committer's Conventional Commit waits for an approver, who accepts it; the board and the seed
004 rows are shown.
"""

from __future__ import annotations

import json
import time
from typing import Any

import click
import sqlalchemy as sa

from worker.cli.demo_output import run_cli, step
from worker.cli.output import table
from worker.cli.workflows import describe_execution
from worker.client import AgentWorkerClient
from worker.core.settings import Settings
from worker.dev.seed import DEMO_APPROVER_EMAIL, DEMO_PROJECT, DEMO_TENANT_SLUG
from worker.durable.publishing import CeleryPublisher

#: The scripted person's answers, one per question (the tenant's setting asks two).
ANSWERS = (
    "A web shop where people sell second-hand bikes to each other.",
    "Cyclists in Lisbon; they list a bike in under two minutes from a phone.",
)
PERSON = "pat.product@acme.example"
_T = DEMO_TENANT_SLUG


def run_pipeline(app: Any, engine: sa.Engine, settings: Settings, env: dict[str, str]) -> None:
    step("seed 004's orchestrator pipeline: an interview, prompts, a board, a commit")
    run_cli(env, "pipeline", "install", "--tenant", _T)
    started = run_cli(env, "pipeline", "start", "--tenant", _T, "--project", DEMO_PROJECT, "--json")
    execution_id = json.loads(started.splitlines()[-1])["execution_id"]
    client = AgentWorkerClient(engine, CeleryPublisher(app), settings, tenant=_T)

    interview_id = _question_waiting(engine, execution_id, 1)
    step("the interview waits for a person (no worker slot is held):")
    run_cli(env, "interviews", "show", interview_id, "--tenant", _T)
    step("an answer that does not fit the question's schema is refused; nothing is lost:")
    run_cli(
        env,
        "interviews",
        "answer",
        interview_id,
        '{"bikes": 3}',
        "--json",
        "--tenant",
        _T,
        may_fail=True,
    )
    step("the scripted person answers; the interviewer writes the next question")
    for number, answer in enumerate(ANSWERS, start=1):
        _question_waiting(engine, execution_id, number)
        run_cli(
            env,
            "interviews",
            "answer",
            interview_id,
            answer,
            "--question",
            str(number),
            "--tenant",
            _T,
            "--as",
            PERSON,
        )
    step("prompts, a board, the card worked in its chat; its commit waits for an approver:")
    approval_id = _commit_approval(client)
    run_cli(env, "approvals", "show", approval_id)
    run_cli(
        env,
        "approvals",
        "approve",
        approval_id,
        "--user",
        DEMO_APPROVER_EMAIL,
        "--comment",
        "Good commit",
    )
    view = _finished(client, execution_id)
    step(f"pipeline {view.status.value}")
    click.echo(describe_execution(view))
    run_cli(env, "board", "show", "--tenant", _T, "--project", DEMO_PROJECT)
    step("seed 004's rows the pipeline wrote")
    click.echo(table(_rows_written(engine), ["table", "rows"]))
    if view.status.value != "completed":
        raise click.ClickException(f"the pipeline did not complete: {view.error}")


def _question_waiting(
    engine: sa.Engine, execution_id: str, number: int, timeout: float = 60
) -> str:
    """The execution's interview, once question ``number`` waits for its answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.connect() as connection:
            row = connection.execute(
                sa.text(
                    "SELECT id, conversation_data -> -1 AS last FROM interviews "
                    "WHERE workflow_execution_id = :e"
                ),
                {"e": execution_id},
            ).one_or_none()
        if row is not None and row.last["role"] == "assistant" and row.last["question"] == number:
            return str(row.id)
        time.sleep(0.2)
    raise click.ClickException(
        f"question {number} of the interview was not asked in {timeout:.0f}s"
    )


def _commit_approval(client: AgentWorkerClient, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for approval in client.approvals(tenant=_T):
            if approval.payload.get("tool") == "commit_changes":
                return str(approval.id)
        time.sleep(0.2)
    raise click.ClickException(f"no commit asked for an approval in {timeout:.0f}s")


def _finished(client: AgentWorkerClient, execution_id: str, timeout: float = 120) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        view = client.get_execution(execution_id)
        if view.status.value in ("completed", "failed", "cancelled"):
            return view
        time.sleep(0.2)
    raise click.ClickException(f"the pipeline did not finish in {timeout:.0f}s")


def _rows_written(engine: sa.Engine) -> list[tuple[str, int]]:
    with engine.connect() as connection:
        return [
            (name, connection.execute(sa.text(f"SELECT count(*) FROM {name}")).scalar_one())
            for name in ("interviews", "prompts", "board_tasks", "chat_sessions", "commits")
        ]
