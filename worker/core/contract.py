"""The submission contract: the payloads other services send, validated at the edge.

Task names are stable; payloads are JSON kwargs. The published JSON Schemas live in
``worker/schemas/`` (a test keeps them equal to these models). A service with only Celery
installed sends::

    app.send_task("agents.run_task", kwargs={"tenant": "acme", "agent": "assistant",
                                             "input": "Plan a venue shortlist"})
"""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError

from worker.core.errors import AgentWorkerError

CONTRACT_VERSION = 1
RUN_TASK = "agents.run_task"
INGEST_KNOWLEDGE = "knowledge.ingest"
START_WORKFLOW = "workflows.start"
ADVANCE_WORKFLOW = "workflows.advance"
RESOLVE_APPROVAL = "approvals.resolve"

_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"
_TRIMMED = r"^\S(.*\S)?$"
M = TypeVar("M", bound=BaseModel)


class InvalidPayload(AgentWorkerError):
    """The payload does not follow the contract; retrying the same message cannot help."""

    code = "invalid_payload"


class _Payload(BaseModel):
    # Strict scalars, so the code accepts exactly what the published JSON Schema does.
    model_config = ConfigDict(extra="forbid", frozen=True)


class SubmissionAuth(_Payload):
    """A signed submission's ``auth`` field (README "Signed submissions"): the key is named by
    its prefix only; the signature is HMAC-SHA256 of the canonical form of the other kwargs."""

    key: Annotated[
        StrictStr,
        Field(pattern=r"^awk_[A-Za-z0-9]{8}$", description="The API key's prefix."),
    ]
    timestamp: Annotated[StrictInt, Field(ge=0, description="When it was signed: unix seconds.")]
    nonce: Annotated[
        StrictStr,
        Field(pattern=r"^[A-Za-z0-9_\-]{16,128}$", description="Random, never used twice."),
    ]
    signature: Annotated[
        StrictStr,
        Field(pattern=r"^[0-9a-f]{64}$", description="Lower-case hex HMAC-SHA256."),
    ]


_Auth = Annotated[
    SubmissionAuth | None,
    Field(
        default=None,
        description="The signature of a signed submission (required by a tenant in 'signed' "
        "broker mode).",
    ),
]


class RunBudget(_Payload):
    """Limits on one run (worker.agents.budgets); each optional, the run stops at the first
    one reached. Given with a submission and in the agent's configuration, the stricter of
    each limit holds."""

    max_llm_calls: Annotated[
        StrictInt | None, Field(default=None, ge=1, description="LLM calls the run may make.")
    ] = None
    max_tokens_total: Annotated[
        StrictInt | None,
        Field(default=None, ge=1, description="Prompt + completion tokens the run may use."),
    ] = None
    max_cost_usd: Annotated[
        Decimal | None,
        Field(default=None, gt=0, description="Dollars the run may spend (the price table's)."),
    ] = None
    on_exceeded: Annotated[
        Literal["fail", "ask"] | None,
        Field(
            default=None,
            description='What the run does at a limit: "fail" (the default) with '
            'budget_exceeded, or "ask": it waits for an approver to grant as much again.',
        ),
    ] = None


class RunTaskRequest(_Payload):
    """``agents.run_task`` v1: run one agent on one input for one tenant."""

    tenant: Annotated[
        StrictStr,
        Field(
            min_length=1, max_length=100, pattern=_TRIMMED, description="Tenant id (UUID) or slug."
        ),
    ]
    agent: Annotated[
        StrictStr,
        Field(min_length=1, max_length=100, pattern=_NAME, description="The agent's name."),
    ]
    input: Annotated[
        StrictStr | dict[str, Any],
        Field(description="What to ask: text, or a JSON object (sent to the agent as JSON)."),
    ]
    idempotency_key: Annotated[
        str | None,
        Field(
            default=None,
            min_length=1,
            max_length=255,
            description="Unique per tenant: a second submission with the same key returns the "
            "first task and never runs twice.",
        ),
    ] = None
    priority: Annotated[
        StrictInt, Field(default=0, ge=0, le=9, description="0 (default) to 9 (most urgent).")
    ] = 0
    metadata: Annotated[
        dict[str, Any],
        Field(default_factory=dict, description="Free-form data stored with the task."),
    ]
    budget: Annotated[
        RunBudget | None,
        Field(default=None, description="Limits on the run; the agent's own, if stricter, hold."),
    ] = None
    auth: _Auth = None


class TaskReference(_Payload):
    """What our own client and the reaper publish: the task row already holds the payload."""

    task_id: uuid.UUID


class IngestKnowledgeRequest(_Payload):
    """``knowledge.ingest`` v1: add a document to a tenant's knowledge base."""

    tenant: Annotated[str, Field(min_length=1, max_length=100)]
    name: Annotated[str, Field(min_length=1, max_length=255)]
    text: Annotated[str | None, Field(default=None, description="The document, inline.")] = None
    path: Annotated[str | None, Field(default=None, description="A file the worker can read.")] = (
        None
    )
    source_type: Annotated[str, Field(default="text", pattern="^(text|markdown|file)$")] = "text"
    chunk_size: Annotated[int | None, Field(default=None, gt=0, le=20000)] = None
    chunk_overlap: Annotated[int | None, Field(default=None, ge=0)] = None
    metadata: Annotated[dict[str, Any], Field(default_factory=dict)]
    auth: _Auth = None


class StartWorkflowRequest(_Payload):
    """``workflows.start`` v1: start a workflow execution for one tenant."""

    tenant: Annotated[StrictStr, Field(min_length=1, max_length=100, pattern=_TRIMMED)]
    workflow: Annotated[StrictStr, Field(min_length=1, max_length=200, pattern=_NAME)]
    input: Annotated[
        StrictStr | dict[str, Any],
        Field(
            default_factory=dict,
            description="The workflow input (templates see it as "
            "'input'); an 'event_id' in it ties the execution to that event.",
        ),
    ]
    idempotency_key: Annotated[
        StrictStr | None, Field(default=None, min_length=1, max_length=255)
    ] = None
    auth: _Auth = None


class ExecutionReference(_Payload):
    execution_id: uuid.UUID


class ResolveApprovalRequest(_Payload):
    """``approvals.resolve`` v1: decide a pending approval as a user of its tenant."""

    approval_id: uuid.UUID
    decision: Literal["approve", "reject"]
    user: Annotated[
        StrictStr, Field(min_length=1, max_length=320, description="The approver's email or id.")
    ]
    comment: Annotated[StrictStr | None, Field(default=None, max_length=5000)] = None
    digest: Annotated[
        StrictStr | None,
        Field(
            default=None,
            pattern=r"^[0-9a-f]{64}$",
            description="A tool approval: the digest of the call the approver was shown "
            "(SHA-256 hex); refused if the call pending now has another.",
        ),
    ] = None
    arguments: Annotated[
        dict[str, Any] | None,
        Field(
            default=None,
            description="A tool approval: the arguments as the approver edited them "
            "(validated against the tool's schema); the edited call is what is approved.",
        ),
    ] = None
    auth: _Auth = None


def describe_validation_error(error: ValidationError, root: str = "payload") -> str:
    """One readable sentence per problem: "field 'agent': String should match pattern …"."""
    problems: dict[str, list[str]] = {}
    for item in error.errors(include_url=False):
        # Drop pydantic's names for union members ("constrained-str", "dict[str,any]").
        parts = [str(p) for p in item["loc"] if isinstance(p, int) or _is_field_name(str(p))]
        location = ".".join(parts) or root
        if item["type"] == "extra_forbidden":
            problems[f"extra:{location}"] = [
                f"unknown field '{location}' (not part of the contract)"
            ]
        elif item["type"] == "missing":
            problems[f"missing:{location}"] = [f"field '{location}' is required"]
        else:
            problems.setdefault(location, []).append(item["msg"])
    sentences = []
    for key, texts in problems.items():
        if key.startswith(("extra:", "missing:")):
            sentences.append(texts[0])
        else:
            sentences.append(f"field '{key}': " + ", or ".join(texts))
    return "; ".join(sentences)


_UNION_TAGS = frozenset({"str", "int", "float", "bool", "dict", "list", "none"})


def _is_field_name(part: str) -> bool:
    return part.isidentifier() and part not in _UNION_TAGS


def parse_payload(model: type[M], payload: Any) -> M:
    try:
        return model.model_validate(payload)
    except ValidationError as error:
        raise InvalidPayload(
            f"invalid {model.__name__} payload: {describe_validation_error(error)}"
        ) from error


def payload_size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, default=str).encode())
