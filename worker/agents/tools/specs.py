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
    #: The model's id for this call: stable across redeliveries, so a tool with side effects
    #: can use it as an idempotency key.
    tool_call_id: str | None = None


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
