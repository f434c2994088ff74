"""The built-in tools of seed 004's pipeline: the prompt engineer saves versioned prompts, the
planner puts cards on the board, the committer proposes a card's Conventional Commit.

Each is ``transactional`` (its rows commit with the call's result, or not at all) and finds
what it works on from its own task, never from the model's arguments: the project is the one
its workflow execution interviewed about, the card is the one the board step gave the task.
``commit_changes`` needs an approval: the commit is written, and the card moved to done, only
when an approver accepts the exact message shown.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field

from models import AgentRun, CommitType, Interview, Prompt, Task
from worker.agents.tools.specs import ToolContext
from worker.agents.tools.writes import writing as _writing
from worker.orchestrator import (
    add_card,
    conventional_message,
    reusable_components,
    setting,
    write_commit,
)
from worker.orchestrator import (
    save_prompt as save_project_prompt,
)

PromptType = Annotated[
    str,
    Field(
        pattern=r"^[a-z][a-z0-9_]{0,49}$",
        description="What the prompt is for (snake_case); saving a type again makes a new version.",
    ),
]


class PlannedCard(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    title: Annotated[str, Field(min_length=1, max_length=255)]
    description: Annotated[str | None, Field(max_length=10_000)] = None


def save_prompt(
    context: ToolContext,
    prompt: Annotated[str, Field(min_length=1, max_length=100_000)],
    prompt_type: PromptType = "task",
    reusable: Annotated[
        bool, Field(description="A component other prompts of the project may include.")
    ] = False,
    include_components: Annotated[
        bool, Field(description="Compose it with the project's reusable prompts.")
    ] = True,
) -> dict[str, Any]:
    """Save a prompt for the project this pipeline interviewed about, made from the interview;
    it is composed with the project's reusable prompts unless told otherwise."""
    with _writing(context, "prompts") as session:
        interview = _interview_of(session, context)
        connection = session.connection()
        components = (
            [c.id for c in reusable_components(connection, interview.project_id)]
            if include_components and not reusable
            else []
        )
        saved = save_project_prompt(
            connection,
            tenant_id=context.tenant_id,
            project_id=interview.project_id,
            content=prompt,
            prompt_type=prompt_type,
            is_reusable=reusable,
            components=components,
            interview_id=interview.id,
        )
        return {
            "prompt_id": str(saved.id),
            "type": saved.type,
            "version": saved.version,
            "components": list(saved.components),
        }


def plan_board_tasks(
    context: ToolContext,
    tasks: Annotated[list[PlannedCard], Field(min_length=1, max_length=20)],
) -> dict[str, Any]:
    """Put the project's work on its Kanban board: one card per task, in the backlog, in the
    order given, each following the prompt this pipeline generated."""
    with _writing(context, "board_tasks") as session:
        interview = _interview_of(session, context)
        prompt_id = session.execute(
            sa.select(Prompt.id)
            .where(Prompt.created_from_interview_id == interview.id, Prompt.is_reusable.is_(False))
            .order_by(Prompt.created_at.desc(), Prompt.version.desc())
            .limit(1)
        ).scalar_one_or_none()
        cards = [
            add_card(
                session.connection(),
                tenant_id=context.tenant_id,
                project_id=interview.project_id,
                title=task.title,
                description=task.description,
                prompt_id=prompt_id,
            )
            for task in tasks
        ]
        return {"board_task_ids": [str(c.id) for c in cards], "column": "backlog"}


def commit_changes(
    context: ToolContext,
    type: CommitType,
    description: Annotated[
        str, Field(min_length=1, max_length=100, description="One line: what changed.")
    ],
    scope: Annotated[
        str | None, Field(default=None, pattern=r"^[a-z0-9][a-z0-9._/-]{0,39}$")
    ] = None,
    body: Annotated[str | None, Field(max_length=10_000)] = None,
    files: Annotated[list[str], Field(max_length=200)] = [],  # noqa: B006 (pydantic copies)
    breaking: bool = False,
) -> dict[str, Any]:
    """Commit the reviewed board task's work with a Conventional Commits message; an
    approver sees the message and accepts it before anything is written."""
    message = conventional_message(type, description, scope=scope, body=body, breaking=breaking)
    with _writing(context, "commits") as session:
        payload = session.execute(
            sa.select(Task.input_payload).where(Task.id == context.task_id)
        ).scalar_one()
        card_id = (payload or {}).get("board_task_id")
        if not card_id:
            raise ValueError(
                "commit_changes commits a board task's work: it runs in the task a board "
                "step gives its committer, and this task names no board task"
            )
        connection = session.connection()
        written = write_commit(
            connection,
            board_task_id=uuid.UUID(card_id),
            commit_type=type,
            message=message,
            changes={"files": files, "task_id": str(context.task_id), "agent": context.agent_name},
            model=_model_of(session, context),
            author=str(setting(connection, context.tenant_id, "orchestrator.commit.author")),
        )
        return {"commit_id": str(written.id), "message": written.message, "board_task": "done"}


PIPELINE_TOOLS: list[tuple[Any, dict[str, Any]]] = [
    (save_prompt, {"transactional": True}),
    (plan_board_tasks, {"transactional": True}),
    # Runs only once a person approves the call (worker.agents.tool_gate).
    (commit_changes, {"transactional": True, "needs_approval": True}),
]


def _interview_of(session: Any, context: ToolContext) -> Any:
    """The interview of the task's workflow execution (its latest)."""
    interview = session.execute(
        sa.select(Interview.id, Interview.project_id)
        .join(Task, Task.workflow_execution_id == Interview.workflow_execution_id)
        .where(Task.id == context.task_id)
        .order_by(Interview.created_at.desc())
        .limit(1)
    ).one_or_none()
    if interview is None:
        raise ValueError(
            "this tool works inside seed 004's pipeline: its workflow needs an interview "
            "step before this one, and this task belongs to no interviewed execution"
        )
    return interview


def _model_of(session: Any, context: ToolContext) -> str | None:
    if context.agent_run_id is None:
        return None
    model: str | None = session.execute(
        sa.select(AgentRun.model).where(AgentRun.id == context.agent_run_id)
    ).scalar_one_or_none()
    return model
