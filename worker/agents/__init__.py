"""Agents: their definitions, submitting a task, running it (the loop, its turns and how a run
ends), tool calls and the approval gate in front of them, the tool registry, and the knowledge
base the built-in search reads.

Names load when first used, so a light caller (the client submitting a task) does not load the
runner, the LLM gateway or the tools.
"""

from worker.core.exports import exports

__all__, __getattr__, __dir__ = exports(
    __name__,
    {
        "definitions": [
            "AgentConfiguration",
            "AgentDefinition",
            "InvalidAgentDefinition",
            "UnknownAgent",
            "find_agent",
            "load_agent",
        ],
        "submission": [
            "InputTooLarge",
            "Submitted",
            "create_task",
            "message_key",
            "record_rejected",
        ],
        "runtime": ["Runtime", "TTLCache", "build_runtime"],
        "run_state": ["Outcome"],
        "runner": ["execute_task"],
        "tool_calls": ["ToolCallScope", "ToolOutcome", "idempotency_key", "run_tool_call"],
        "tools": ["ToolContext", "ToolRegistry", "ToolSpec", "builtin_tools"],
        "knowledge": [
            "Embedder",
            "Hit",
            "IngestResult",
            "KnowledgeInputError",
            "chunk_text",
            "embedder_for",
            "ingest",
            "search",
        ],
    },
)
