"""What a tool receives (``ToolContext``) and what the registry knows about it (``ToolSpec``).

Both are plain frozen dataclasses, so the argument building (``worker.agents.tools.arguments``)
and the registry can share them without importing each other.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from pydantic import BaseModel


@dataclass(frozen=True)
class ToolContext:
    """The first argument of every tool: who is calling, and the dependencies it may use."""

    tenant_id: uuid.UUID
    task_id: uuid.UUID
    agent_run_id: uuid.UUID | None
    agent_name: str
    #: A SQLAlchemy ``sessionmaker``: ``with context.session_factory() as session: ...``
    session_factory: Callable[[], Any]
    #: Extra dependencies by name, e.g. ``{"embedder": ...}``.
    services: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    #: The model's id for this call: stable across redeliveries.
    tool_call_id: str | None = None
    #: Stable across redeliveries and unique per call: give it to an external service that
    #: deduplicates requests (an ``Idempotency-Key`` header), so a repeated call acts once.
    idempotency_key: str | None = None
    #: True when an earlier attempt of this very call may have acted (its worker stopped after
    #: the call was recorded and before its result was): an ``idempotent`` tool is called
    #: again with the same key and may look up what happened first.
    outcome_unknown: bool = False


@dataclass(frozen=True)
class ToolSpec:
    name: str
    description: str
    #: JSON Schema of the arguments: ``{"type": "object", "properties": ..., ...}``.
    parameters_schema: dict[str, Any]
    function: Callable[..., Any]
    #: Validates the model's arguments; fields are aliased to the parameter names.
    arguments_model: type[BaseModel]
    needs_approval: bool = False
    side_effects: bool = False
    #: Its effects are rows in our database, written through ``context.session_factory()``:
    #: they commit together with its result, under the task's lease, or not at all.
    transactional: bool = False
    #: Calling it again with the same ``context.idempotency_key`` acts at most once (its
    #: service deduplicates), so a call whose outcome is unknown may be made again.
    idempotent: bool = False
    #: One of seed 003's action types (e.g. ``"knowledge_search"``), for the action log.
    action_type: str | None = None
    provider: str = "agentworker"

    def openai_tool(self) -> dict[str, Any]:
        """This tool in the OpenAI chat-completions ``tools`` format."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": copy.deepcopy(self.parameters_schema),
            },
        }

    def parameter_names(self) -> tuple[str, ...]:
        return tuple(f.alias or n for n, f in self.arguments_model.model_fields.items())
