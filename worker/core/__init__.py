"""The ground floor every wing stands on: errors, settings, the submission contract, tenants
by id or slug, log context, and lazy public names for the wings."""

from worker.core.exports import exports

__all__, __getattr__, __dir__ = exports(
    __name__,
    {
        "errors": ["AgentWorkerError", "ConfigurationError"],
        "settings": ["Settings", "get_settings"],
        "contract": [
            "ADVANCE_WORKFLOW",
            "CONTRACT_VERSION",
            "INGEST_KNOWLEDGE",
            "RESOLVE_APPROVAL",
            "RUN_TASK",
            "START_WORKFLOW",
            "ExecutionReference",
            "IngestKnowledgeRequest",
            "InvalidPayload",
            "ResolveApprovalRequest",
            "RunTaskRequest",
            "StartWorkflowRequest",
            "TaskReference",
            "describe_validation_error",
            "parse_payload",
            "payload_size",
        ],
        "tenants": ["UnknownTenant", "resolve_tenant", "tenant_named_by"],
        "log_context": ["bind", "current_context", "log_context", "unbind"],
    },
)
