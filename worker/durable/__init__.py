"""Durability: the state machines, leases and their heartbeat, the run journal, the rows that
record what happened, publishing after commit, the reaper, the schema revision, and named fault
points for crash tests."""

from worker.core.exports import exports

__all__, __getattr__, __dir__ = exports(
    __name__,
    {
        "states": [
            "AGENT_RUN",
            "APPROVAL",
            "EXECUTION",
            "STEP_RUN",
            "TASK",
            "InvalidTransition",
            "StateMachine",
        ],
        "leases": [
            "ClaimedTask",
            "LeaseHeartbeat",
            "claim_task",
            "lease_held",
            "new_owner_id",
            "release",
            "release_task",
        ],
        "journal": ["Step", "append", "finish"],
        "records": ["Scope", "error_log", "event", "write"],
        "row_batches": ["RowBatch"],
        "action_logs": ["ACTION_LOGS", "completing_action_logs"],
        "publishing": ["CeleryPublisher", "Publisher", "Wake", "publishing_app"],
        "reaper": ["ReapReport", "reap"],
        "schema": ["SchemaOutOfDate", "assert_schema_current", "head_revision", "upgrade"],
        "faults": ["fault_point"],
    },
)
