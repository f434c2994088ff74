"""Tools the agent loop may call: the registry and what a tool receives.

The registry is pure; the built-in tools live in ``worker.agents.tools.builtin``.
"""

from worker.agents.tools.registry import (
    ToolArgumentsInvalid,
    ToolContext,
    ToolDefinitionError,
    ToolError,
    ToolRegistry,
    ToolSpec,
    UnknownTool,
)

__all__ = [
    "ToolArgumentsInvalid",
    "ToolContext",
    "ToolDefinitionError",
    "ToolError",
    "ToolRegistry",
    "ToolSpec",
    "UnknownTool",
]
