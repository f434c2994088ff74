"""What each Celery task does, as plain functions of (runtime, payload, message id)."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from typing import Any

from models import TaskStatus
from worker.agents import UnknownAgent
from worker.contract import InvalidPayload, RunTaskRequest, TaskReference, parse_payload
from worker.errors import AgentWorkerError
from worker.runner import Outcome, execute_task
from worker.runtime import Runtime
from worker.submission import (
    InputTooLarge,
    UnknownTenant,
    create_task,
    message_key,
    record_rejected,
)

log = logging.getLogger(__name__)


def handle_run_task(runtime: Runtime, payload: Mapping[str, Any], message_id: str) -> Outcome:
    """``agents.run_task``: a task reference from our client or reaper, or a full request
    from a foreign service (then the worker creates the task row itself)."""
    if set(payload) == {"task_id"}:
        reference = parse_payload(TaskReference, payload)
        return execute_task(runtime, reference.task_id)
    try:
        request = parse_payload(RunTaskRequest, payload)
        with runtime.engine.begin() as connection:
            submitted = create_task(
                connection,
                runtime.settings,
                request,
                idempotency_key=request.idempotency_key or message_key(message_id),
                broker_message_id=message_id,
            )
    except (InvalidPayload, UnknownTenant, UnknownAgent, InputTooLarge) as error:
        return _reject(runtime, payload, error, message_id)
    if not submitted.created and submitted.status != TaskStatus.PENDING:
        return Outcome(
            submitted.task_id,
            "skipped",
            f"duplicate submission of task {submitted.task_id} ({submitted.status})",
        )
    return execute_task(runtime, submitted.task_id)


def _reject(
    runtime: Runtime, payload: Mapping[str, Any], error: AgentWorkerError, message_id: str
) -> Outcome:
    with runtime.engine.begin() as connection:
        rejected = record_rejected(connection, payload, error, broker_message_id=message_id)
    log.warning("rejected %s: %s", message_id, error)
    task_id = rejected.task_id if rejected is not None else uuid.UUID(int=0)
    return Outcome(task_id, "failed", str(error))
