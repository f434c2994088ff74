"""Agent definitions: an ai_agents row's configuration, validated, plus lookup by name."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any

import jsonschema
import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from models import AgentStatus, AIAgent, ModelUsageType
from worker.agents.budgets import RunBudget
from worker.approvals.quorum import QuorumPolicy
from worker.core.contract import describe_validation_error
from worker.core.errors import AgentWorkerError
from worker.security.secret_refs import check_reference_name


class UnknownAgent(AgentWorkerError):
    code = "unknown_agent"


class InvalidAgentDefinition(AgentWorkerError):
    code = "invalid_agent_definition"


class AgentConfiguration(BaseModel):
    """What ``ai_agents.configuration`` holds."""

    model_config = ConfigDict(extra="allow", frozen=True)

    model: str | None = None
    provider: str | None = Field(default=None, description="An ai_models name to call through.")
    #: Without a ``provider``, the tenant's active ai_models row of this usage type is called
    #: (else its ``general`` row, else the environment's endpoint).
    usage: ModelUsageType = ModelUsageType.TASK_EXECUTION
    system_prompt: str = "You are a helpful assistant."
    tools: tuple[str, ...] = ()
    temperature: Annotated[float | None, Field(ge=0, le=2)] = None
    max_steps: Annotated[int, Field(ge=1, le=100)] = 8
    max_tokens: Annotated[int | None, Field(gt=0)] = None
    #: Bounds on one drive of the run and on one tool call (seconds); unset: the settings'.
    timeout_seconds: Annotated[float | None, Field(gt=0)] = None
    tool_timeout_seconds: Annotated[float | None, Field(gt=0)] = None
    output_schema: dict[str, Any] | None = None
    #: Per tool that needs approval: how many approvers (``{"send_email": {"quorum": 2}}``).
    tool_approvals: dict[str, QuorumPolicy] = Field(default_factory=dict)
    #: Secret references its tools may resolve though the task's input does not pass them
    #: ("tenant:crm_token", "env:CRM_TOKEN"; ``worker.security.secret_refs``).
    secrets: tuple[str, ...] = ()
    #: Limits on one run's LLM calls, tokens and cost (``worker.agents.budgets``).
    budget: RunBudget | None = None

    @field_validator("secrets")
    @classmethod
    def _are_references(cls, secrets: tuple[str, ...]) -> tuple[str, ...]:
        for reference in secrets:
            check_reference_name(reference)
        return secrets

    @field_validator("output_schema")
    @classmethod
    def _is_a_json_schema(cls, schema: dict[str, Any] | None) -> dict[str, Any] | None:
        if schema is not None:
            try:
                jsonschema.Draft202012Validator.check_schema(schema)
            except jsonschema.SchemaError as error:
                raise ValueError(
                    f"output_schema is not a valid JSON Schema: {error.message}"
                ) from None
        return schema


@dataclass(frozen=True)
class AgentDefinition:
    id: uuid.UUID
    tenant_id: uuid.UUID | None
    name: str
    version: str
    configuration: AgentConfiguration


def _columns() -> tuple[sa.ColumnElement[Any], ...]:
    return (AIAgent.id, AIAgent.tenant_id, AIAgent.name, AIAgent.version, AIAgent.configuration)


def _definition(row: sa.Row[Any]) -> AgentDefinition:
    try:
        configuration = AgentConfiguration.model_validate(row.configuration or {})
    except ValidationError as error:
        raise InvalidAgentDefinition(
            f"agent '{row.name}' has an invalid configuration: "
            f"{describe_validation_error(error)}; fix ai_agents.configuration"
        ) from error
    return AgentDefinition(row.id, row.tenant_id, row.name, row.version, configuration)


def find_agent(connection: sa.Connection, tenant_id: uuid.UUID, name: str) -> AgentDefinition:
    """The tenant's active agent called ``name``, else the system-wide one of that name."""
    row = connection.execute(
        sa.select(*_columns())
        .where(
            AIAgent.name == name,
            AIAgent.status == AgentStatus.ACTIVE,
            sa.or_(AIAgent.tenant_id == tenant_id, AIAgent.tenant_id.is_(None)),
        )
        .order_by(AIAgent.tenant_id.is_(None))  # the tenant's own first
        .limit(1)
    ).one_or_none()
    if row is None:
        known = connection.scalars(
            sa.select(AIAgent.name)
            .where(
                AIAgent.status == AgentStatus.ACTIVE,
                sa.or_(AIAgent.tenant_id == tenant_id, AIAgent.tenant_id.is_(None)),
            )
            .distinct()
            .order_by(AIAgent.name)
        ).all()
        raise UnknownAgent(
            f"unknown agent '{name}' for this tenant; known agents: "
            + (", ".join(known) if known else "none (create one in ai_agents)")
        )
    return _definition(row)


def load_agent(connection: sa.Connection, agent_id: uuid.UUID) -> AgentDefinition:
    row = connection.execute(sa.select(*_columns()).where(AIAgent.id == agent_id)).one_or_none()
    if row is None:
        raise UnknownAgent(f"agent {agent_id} no longer exists")
    return _definition(row)
