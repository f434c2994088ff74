"""Workflows: definitions validated when saved, versioned in the catalog, and the engine that
runs an execution step by step (one guarded transition per message), and cancelling."""

from worker.core.exports import exports

__all__, __getattr__, __dir__ = exports(
    __name__,
    {
        "definition": [
            "AgentStep",
            "ApprovalStep",
            "ConditionStep",
            "InvalidWorkflow",
            "ParallelStep",
            "WorkflowDefinition",
            "definition_json_schema",
            "parse_definition",
        ],
        "catalog": [
            "ExecutionNotFound",
            "Started",
            "UnknownWorkflow",
            "define_workflow",
            "pin_version",
            "save_workflow_steps",
            "start_execution",
        ],
        "engine": ["advance"],
        "cancellation": [
            "Cancelled",
            "NothingToCancel",
            "cancel",
            "cancel_execution",
            "cancel_task",
        ],
    },
)
