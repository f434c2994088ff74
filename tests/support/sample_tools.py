"""Sample tools for the tool registry's unit tests, and a registry holding two of them.

``search_knowledge`` has a described, a defaulted and a nested parameter; ``send_email`` needs
approval and has side effects. Each test module builds its own ``registry`` fixture from
:func:`sample_registry`, so a test can see where its registry comes from.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from worker.agents.tools import ToolContext, ToolRegistry


class Filter(BaseModel):
    kind: Literal["document", "faq"]


def search_knowledge(
    context: ToolContext,
    query: Annotated[str, Field(description="What to look for")],
    limit: int = 5,
    filters: list[Filter] | None = None,
) -> dict[str, Any]:
    """Search the tenant's knowledge base.

    Returns the best matching chunks.
    """
    return {"context": context, "query": query, "limit": limit, "filters": filters}


def send_email(context: ToolContext, to: str, body: str) -> str:
    """Send an email."""
    return f"sent to {to}"


def make_context() -> ToolContext:
    return ToolContext(
        tenant_id=uuid.uuid4(),
        task_id=uuid.uuid4(),
        agent_run_id=None,
        agent_name="researcher",
        session_factory=lambda: None,
    )


def sample_registry() -> ToolRegistry:
    """A fresh registry with ``search_knowledge`` (a knowledge search) and ``send_email``."""
    registry = ToolRegistry()
    registry.tool(action_type="knowledge_search")(search_knowledge)
    registry.tool(needs_approval=True, side_effects=True)(send_email)
    return registry
