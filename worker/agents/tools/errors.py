"""What can go wrong with a tool: it is unknown, its arguments are invalid, or the function
cannot be a tool at all. Every message is fit to send back to the model (CONVENTIONS 10)."""

from __future__ import annotations

from collections.abc import Iterable

from worker.core.errors import AgentWorkerError


class ToolError(AgentWorkerError):
    """A tool could not run or failed; its message is fit to send back to the model."""

    code = "tool_error"
    retryable = False


class UnknownTool(ToolError):
    code = "unknown_tool"

    def __init__(self, tool_name: str, known: Iterable[str]) -> None:
        self.tool_name = tool_name
        self.known = tuple(sorted(known))
        listing = f"known tools: {', '.join(self.known)}" if self.known else "no tools are known"
        super().__init__(f"unknown tool {tool_name!r}; {listing}")


class ToolArgumentsInvalid(ToolError):
    code = "tool_arguments_invalid"

    def __init__(self, message: str, *, tool_name: str, fields: Iterable[str] = ()) -> None:
        super().__init__(message)
        self.tool_name = tool_name
        self.fields = tuple(fields)


class ToolDefinitionError(ToolError):
    """A function cannot be registered as a tool (raised at import time, not at run time)."""

    code = "tool_definition"
