"""Workflow definitions (``ai_workflows.steps``), validated with pydantic when saved.

Steps run in order unless a policy or a condition jumps to a named step:

- ``agent``: run an agent; its ``input`` is a template over the workflow input and earlier
  outputs, e.g. ``"Propose venues for {{ input.brief }}"`` or ``"{{ steps.research.output }}"``;
- ``approval``: a human gate: what to ``show``, the ``required_role``, how many distinct
  approvers (``quorum``, default 1; ``rejections_needed``, default 1), an expiry, and what to do
  ``on_reject`` / ``on_timeout``: ``fail``, ``skip`` or ``goto:<step key>``;
- ``parallel``: agent ``branches`` that run at once; the step ends when all have finished;
- ``condition``: branch on an earlier output: ``if`` (a template) ``equals`` / ``contains`` /
  ``exists``, then ``goto`` the ``then`` or ``else`` step (or continue with the next step);
- ``interview``: ask a person about a seed 004 project and wait for each answer (holding no
  worker), each checked against ``answer_schema``; an ``agent`` writes the next question from
  the conversation so far, up to ``max_questions``;
- ``board``: work a project's backlog cards: an ``agent`` per card in its chat session
  (backlog → in progress → review), then the ``committer``'s Conventional Commit, written once
  an approver accepts it (review → done).
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal

import jsonschema
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from models import MembershipRole
from worker.approvals.quorum import MAX_QUORUM
from worker.core.contract import describe_validation_error
from worker.core.errors import AgentWorkerError

_KEY = r"^[a-z][a-z0-9_]{0,99}$"
_POLICY = r"^(fail|skip|goto:[a-z][a-z0-9_]{0,99})$"
StepKey = Annotated[str, Field(pattern=_KEY, description="Unique step name (snake_case).")]
Policy = Annotated[str, Field(pattern=_POLICY, description="fail, skip or goto:<step key>")]


class InvalidWorkflow(AgentWorkerError):
    code = "invalid_workflow"


class _Step(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    key: StepKey


class AgentStep(_Step):
    kind: Literal["agent"] = "agent"
    agent: Annotated[str, Field(min_length=1, max_length=100)]
    input: Any = Field(default="{{ input }}", description="Template for the agent's input.")


class ApprovalStep(_Step):
    kind: Literal["approval"] = "approval"
    title: Annotated[str, Field(min_length=1, max_length=300)]
    show: Any = Field(default=None, description="Template for what the approver sees.")
    required_role: MembershipRole = MembershipRole.APPROVER
    quorum: Annotated[
        int, Field(ge=1, le=MAX_QUORUM, description="Distinct approvers who must approve.")
    ] = 1
    rejections_needed: Annotated[
        int, Field(ge=1, le=MAX_QUORUM, description="Rejections that reject (default: one).")
    ] = 1
    expires_in_seconds: Annotated[int | None, Field(default=None, gt=0)] = None
    on_reject: Policy = "fail"
    on_timeout: Policy = "fail"


class ParallelStep(_Step):
    kind: Literal["parallel"] = "parallel"
    branches: Annotated[list[AgentStep], Field(min_length=1, max_length=50)]


class ConditionStep(_Step):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    kind: Literal["condition"] = "condition"
    if_: Annotated[str, Field(alias="if", min_length=1, description="Template to test.")]
    equals: Any = None
    contains: Any = None
    exists: bool | None = None
    then: StepKey | None = None
    else_: Annotated[StepKey | None, Field(alias="else")] = None


ProjectRef = Annotated[Any, Field(description="Template for the seed 004 project's id.")]


class InterviewStep(_Step):
    kind: Literal["interview"] = "interview"
    project: ProjectRef = "{{ input.project_id }}"
    question: Annotated[
        str | None,
        Field(
            default=None,
            min_length=1,
            max_length=2000,
            description="The first question (default: the orchestrator.interview."
            "first_question setting).",
        ),
    ] = None
    answer_schema: dict[str, Any] | None = Field(
        default=None, description="JSON Schema every answer must meet (default: some text)."
    )
    agent: Annotated[
        str | None,
        Field(
            default=None,
            min_length=1,
            max_length=100,
            description="Writes each next question from the conversation so far; it answers "
            "DONE when it has enough. None: the first question is the only one.",
        ),
    ] = None
    max_questions: Annotated[int | None, Field(default=None, ge=1, le=50)] = None

    @model_validator(mode="after")
    def _schema_is_a_json_schema(self) -> InterviewStep:
        if self.answer_schema is not None:
            try:
                jsonschema.Draft202012Validator.check_schema(self.answer_schema)
            except jsonschema.SchemaError as error:
                raise ValueError(
                    f"answer_schema of step '{self.key}' is not a valid JSON Schema: "
                    f"{error.message}"
                ) from None
        return self


class BoardStep(_Step):
    kind: Literal["board"] = "board"
    project: ProjectRef = "{{ input.project_id }}"
    agent: Annotated[
        str, Field(min_length=1, max_length=100, description="Works each card in its chat.")
    ]
    committer: Annotated[
        str,
        Field(
            min_length=1,
            max_length=100,
            description="Proposes each reviewed card's commit; an approver accepts it first.",
        ),
    ]
    cards: Annotated[
        int | None,
        Field(
            default=None,
            ge=1,
            le=50,
            description="Cards of the backlog to take, in board order (default: the "
            "orchestrator.board.cards_per_run setting).",
        ),
    ] = None


Step = Annotated[
    AgentStep | ApprovalStep | ParallelStep | ConditionStep | InterviewStep | BoardStep,
    Field(discriminator="kind"),
]


class WorkflowDefinition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    steps: Annotated[list[Step], Field(min_length=1, max_length=200)]

    @model_validator(mode="after")
    def _keys_are_unique_and_targets_exist(self) -> WorkflowDefinition:
        keys = [step.key for step in self.steps]
        keys += [b.key for s in self.steps if isinstance(s, ParallelStep) for b in s.branches]
        duplicates = sorted({k for k in keys if keys.count(k) > 1})
        if duplicates:
            raise ValueError(f"step keys must be unique; repeated: {', '.join(duplicates)}")
        top = {step.key for step in self.steps}
        for step in self.steps:
            for target in _targets(step):
                if target not in top:
                    raise ValueError(
                        f"step '{step.key}' jumps to '{target}', which is not a top-level step"
                    )
        return self

    def index(self, key: str) -> int:
        for position, step in enumerate(self.steps):
            if step.key == key:
                return position
        raise InvalidWorkflow(f"no step '{key}' in this workflow")

    def agents(self) -> set[str]:
        names = {s.agent for s in self.steps if isinstance(s, AgentStep | BoardStep)}
        names |= {s.committer for s in self.steps if isinstance(s, BoardStep)}
        names |= {s.agent for s in self.steps if isinstance(s, InterviewStep) and s.agent}
        names |= {b.agent for s in self.steps if isinstance(s, ParallelStep) for b in s.branches}
        return names


def _targets(step: Any) -> list[str]:
    targets = []
    if isinstance(step, ApprovalStep):
        targets += [p[5:] for p in (step.on_reject, step.on_timeout) if p.startswith("goto:")]
    if isinstance(step, ConditionStep):
        targets += [t for t in (step.then, step.else_) if t is not None]
    return targets


def parse_definition(steps: Any) -> WorkflowDefinition:
    try:
        return WorkflowDefinition.model_validate({"steps": steps})
    except ValidationError as error:
        raise InvalidWorkflow(f"invalid workflow: {describe_validation_error(error)}") from error


def definition_json_schema() -> dict[str, Any]:
    schema = TypeAdapter(list[Step]).json_schema(by_alias=True)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "agentworker/workflow-steps.v1.json",
        "description": "ai_workflows.steps: the steps of a workflow, in order.",
        **schema,
    }


# -- templates ---------------------------------------------------------------------------------

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_.\-]+)\s*\}\}")


def lookup(context: dict[str, Any], path: str) -> Any:
    value: Any = context
    for part in path.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return None
    return value


def render(template: Any, context: dict[str, Any]) -> Any:
    """Fill ``{{ path }}`` placeholders. A template that is one placeholder keeps the value's
    type; inside text, values are written as text (objects as JSON). Dicts and lists are
    rendered item by item."""
    if isinstance(template, dict):
        return {key: render(value, context) for key, value in template.items()}
    if isinstance(template, list):
        return [render(item, context) for item in template]
    if not isinstance(template, str):
        return template
    whole = _PLACEHOLDER.fullmatch(template.strip())
    if whole:
        return lookup(context, whole.group(1))

    def text(match: re.Match[str]) -> str:
        value = lookup(context, match.group(1))
        if value is None:
            return ""
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)

    return _PLACEHOLDER.sub(text, template)


def condition_holds(step: ConditionStep, context: dict[str, Any]) -> bool:
    value = render(step.if_, context)
    if step.exists is not None:
        return (value not in (None, "", [], {})) == step.exists
    if step.contains is not None:
        haystack = value if isinstance(value, (str, list, dict)) else json.dumps(value)
        return step.contains in haystack
    return bool(value == step.equals)
