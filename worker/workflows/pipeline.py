"""Seed 004's orchestrator pipeline as a workflow of ours: interview → prompts → plan → build.

``install_pipeline`` gives a tenant the pipeline's five agents, each calling the tenant's
``ai_models`` row of its stage's usage type (interview, prompt generation, task execution,
commit generation; planning uses the general one), and the ``orchestrator_pipeline`` workflow.
An agent the tenant already has is left as it is (its edits win). Start it with the project's
id: ``{"project_id": "…"}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from models import AgentStatus, AgentType, AIAgent, AIWorkflow, ModelUsageType, WorkflowType
from worker.core.tenants import resolve_tenant
from worker.workflows.catalog import define_workflow, save_workflow_steps
from worker.workflows.definition import parse_definition

PIPELINE_WORKFLOW = "orchestrator_pipeline"


def _agent(
    name: str, usage: ModelUsageType, prompt: str, tools: list[str], agent_type: AgentType
) -> dict[str, Any]:
    return {
        "name": name,
        "type": agent_type,
        "description": prompt,
        "configuration": {
            "usage": usage.value,
            "system_prompt": prompt,
            "tools": tools,
            "max_steps": 6,
        },
    }


PIPELINE_AGENTS = (
    _agent(
        "interviewer",
        ModelUsageType.INTERVIEW,
        "You interview a person about a software project. Ask one short question at a time "
        "about what is still unclear; reply DONE when the requirements are clear.",
        [],
        AgentType.SUPPORT,
    ),
    _agent(
        "prompt_engineer",
        ModelUsageType.PROMPT_GENERATION,
        "You turn a requirements interview into the prompt a developer agent will follow: "
        "save it with save_prompt.",
        ["save_prompt"],
        AgentType.CONTENT,
    ),
    _agent(
        "planner",
        ModelUsageType.GENERAL,
        "You break a project's prompt into small tasks and put them on its board with "
        "plan_board_tasks, most important first.",
        ["plan_board_tasks"],
        AgentType.SCHEDULING,
    ),
    _agent(
        "task_executor",
        ModelUsageType.TASK_EXECUTION,
        "You carry out one board task of a software project and report what you changed.",
        ["task_context"],
        AgentType.CONTENT,
    ),
    _agent(
        "committer",
        ModelUsageType.COMMIT_GENERATION,
        "You write the Conventional Commit for a reviewed board task with commit_changes: "
        "its type, a one-line description, and the files changed.",
        ["commit_changes"],
        AgentType.CONTENT,
    ),
)

PIPELINE_STEPS: list[dict[str, Any]] = [
    {"key": "interview", "kind": "interview", "agent": "interviewer"},
    {
        "key": "prompts",
        "kind": "agent",
        "agent": "prompt_engineer",
        "input": "Write the task prompt for this project from its interview:\n"
        "{{ steps.interview.output.transcript }}",
    },
    {
        "key": "plan",
        "kind": "agent",
        "agent": "planner",
        "input": "Plan the board tasks for this prompt: {{ steps.prompts.output }}",
    },
    {"key": "build", "kind": "board", "agent": "task_executor", "committer": "committer"},
]


@dataclass(frozen=True)
class Installed:
    workflow_version: int
    agents_created: tuple[str, ...]


def install_pipeline(connection: sa.Connection, tenant: str) -> Installed:
    """The pipeline's agents (those missing) and workflow (a new version only when its steps
    differ), for ``tenant``, in the caller's tenant-scoped transaction."""
    tenant_id = resolve_tenant(connection, tenant)
    have = set(
        connection.execute(
            sa.select(AIAgent.name).where(
                AIAgent.tenant_id == tenant_id,
                AIAgent.name.in_([a["name"] for a in PIPELINE_AGENTS]),
            )
        ).scalars()
    )
    created = []
    for agent in PIPELINE_AGENTS:
        if agent["name"] in have:
            continue
        connection.execute(
            sa.insert(AIAgent.__table__).values(
                tenant_id=tenant_id, version="1.0.0", status=AgentStatus.ACTIVE, **agent
            )
        )
        created.append(agent["name"])
    current = connection.execute(
        sa.select(AIWorkflow.id, AIWorkflow.steps, AIWorkflow.version).where(
            AIWorkflow.tenant_id == tenant_id, AIWorkflow.name == PIPELINE_WORKFLOW
        )
    ).one_or_none()
    wanted = [s.model_dump(by_alias=True) for s in parse_definition(PIPELINE_STEPS).steps]
    if current is None:
        _, version = define_workflow(
            connection,
            tenant=tenant,
            name=PIPELINE_WORKFLOW,
            steps=PIPELINE_STEPS,
            workflow_type=WorkflowType.CONTENT_GENERATION,
            description="Seed 004's orchestrator: interview, prompts, a board, commits.",
        )
    elif current.steps != wanted:
        version = save_workflow_steps(connection, current.id, PIPELINE_STEPS)
    else:
        version = int(current.version)
    return Installed(version, tuple(created))
