"""Tools the agent loop may call: the registry, what a tool receives, what can go wrong, and
the built-in tools.

The registry is pure; the built-in tools live in ``worker.agents.tools.builtin``. Names load
when first used, so importing one of them does not load the built-ins (and the knowledge base
they reach).
"""

from worker.core.exports import exports

__all__, __getattr__, __dir__ = exports(
    __name__,
    {
        "registry": ["ToolRegistry"],
        "specs": ["ToolContext", "ToolSpec"],
        "errors": ["ToolArgumentsInvalid", "ToolDefinitionError", "ToolError", "UnknownTool"],
        "builtin": ["builtin_tools"],
    },
)
