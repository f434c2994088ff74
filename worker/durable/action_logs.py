"""The action_logs rows of a run's tool calls, as the run journal writes them with a step.

A call to a tool with side effects is recorded before it runs (keyed by its idempotency key);
the step that carries its result completes that row instead of inserting a second one.
"""

from __future__ import annotations

from sqlalchemy.dialects.postgresql import Insert as PgInsert

from models import ActionLog
from worker.durable.row_batches import RowBatch

_action_logs = ActionLog.__table__

#: A step's action rows, as ``worker.durable.journal`` writes them.
ACTION_LOGS = RowBatch(
    _action_logs,  # type: ignore[arg-type]
    (
        "tenant_id",
        "task_id",
        "agent_run_id",
        "tool_call_id",
        "tool_name",
        "provider_name",
        "action_type",
        "request_payload",
        "response_data",
        "status",
        "error_message",
        "execution_time_ms",
        "idempotency_key",
    ),
)


def completing_action_logs(statement: PgInsert) -> PgInsert:
    """``statement`` (an INSERT of a step's action rows) made to complete the rows of calls
    recorded before their tool ran instead of failing on their idempotency key."""
    return statement.on_conflict_do_update(
        index_elements=["idempotency_key"],
        set_={
            column: statement.excluded[column]
            for column in ("status", "response_data", "error_message", "execution_time_ms")
        },
    )
