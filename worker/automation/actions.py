"""What a firing does: submit a task, start a workflow execution, or write a communication,
inside the firing's transaction and with its idempotency key.

Each action carries its firing (rule, firing id, depth) where the work it starts keeps it: the
task's ``metadata["automation"]``, the communication's ``personalization_data["automation"]``;
an execution is found through ``automation_firings.workflow_execution_id``. The messages to
publish are returned, for after commit (the reaper re-publishes a task or an execution whose
message was lost in between).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from models import AICommunication, CommunicationType, DeliveryStatus, RecipientType
from worker.agents.submission import create_task
from worker.automation.definition import render
from worker.automation.store import StoredRule, find_recipient
from worker.core.contract import ADVANCE_WORKFLOW, RUN_TASK, RunTaskRequest, parse_payload
from worker.core.settings import Settings
from worker.durable import records
from worker.durable.publishing import Publisher
from worker.workflows.catalog import start_execution

__all__ = ["Outcome", "Publish", "perform"]

_communications: sa.Table = AICommunication.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class Publish:
    name: str
    kwargs: dict[str, Any]
    task_id: str | None = None
    priority: int | None = None

    def send(self, publisher: Publisher) -> None:
        publisher.publish(self.name, self.kwargs, task_id=self.task_id, priority=self.priority)


@dataclass(frozen=True)
class Outcome:
    task_id: uuid.UUID | None = None
    workflow_execution_id: uuid.UUID | None = None
    communication_id: uuid.UUID | None = None
    publish: tuple[Publish, ...] = field(default_factory=tuple)


def perform(
    connection: sa.Connection,
    settings: Settings,
    rule: StoredRule,
    *,
    firing_id: uuid.UUID,
    key: str,
    depth: int,
    context: dict[str, Any],
) -> Outcome:
    """Do ``rule``'s action once for the trigger ``key`` (an ``AgentWorkerError`` if it
    cannot be done: an unknown agent, an input too large…)."""
    definition = rule.definition
    arguments = render(dict(definition.arguments), {**context, "rule": definition.name})
    carried = {
        "rule_id": str(rule.id),
        "rule": definition.name,
        "firing_id": str(firing_id),
        "depth": depth,
    }
    idempotency_key = f"automation:{rule.id}:{key}"
    if definition.action == "run_agent":
        return _run_agent(connection, settings, rule, arguments, idempotency_key, carried)
    if definition.action == "start_workflow":
        started = start_execution(
            connection,
            tenant=str(rule.tenant_id),
            workflow=arguments["workflow"],
            input=arguments.get("input") or {},
            idempotency_key=idempotency_key,
            max_input_bytes=settings.max_input_bytes,
        )
        wake = Publish(ADVANCE_WORKFLOW, {"execution_id": str(started.execution_id)})
        return Outcome(
            workflow_execution_id=started.execution_id,
            publish=(wake,) if started.created else (),
        )
    return _communicate(connection, rule, arguments, carried)


def _run_agent(
    connection: sa.Connection,
    settings: Settings,
    rule: StoredRule,
    arguments: dict[str, Any],
    idempotency_key: str,
    carried: dict[str, Any],
) -> Outcome:
    request = parse_payload(
        RunTaskRequest,
        {
            "tenant": str(rule.tenant_id),
            "agent": arguments["agent"],
            "input": arguments["input"],
            "idempotency_key": idempotency_key,
            "priority": arguments.get("priority", 0),
            "metadata": {**arguments.get("metadata", {}), "automation": carried},
        },
    )
    # Through the tenant's window, as every submission: a rule firing on a burst of events
    # must not flood the broker past it (the held ones are released as slots free).
    submitted = create_task(
        connection, settings, request, idempotency_key=idempotency_key, admission=True
    )
    messages = tuple(
        Publish(RUN_TASK, {"task_id": str(r.task_id)}, task_id=str(r.task_id), priority=r.priority)
        for r in submitted.releases
    )
    return Outcome(task_id=submitted.task_id, publish=messages)


def _communicate(
    connection: sa.Connection,
    rule: StoredRule,
    arguments: dict[str, Any],
    carried: dict[str, Any],
) -> Outcome:
    recipient = find_recipient(connection, rule.tenant_id, arguments["to"])
    email = arguments.get("channel", "in_app") == "email"
    values: dict[str, Any] = {
        "tenant_id": rule.tenant_id,
        "communication_type": (
            CommunicationType.EMAIL if email else CommunicationType.IN_APP_MESSAGE
        ),
        "recipient_id": recipient.id,
        "recipient_type": RecipientType.USER,
        "subject": arguments.get("subject") or f"Automation: {rule.definition.name}",
        "content": arguments["content"],
        "personalization_data": {"to": recipient.email, "automation": carried},
        "automation_rule_id": rule.id,
    }
    if email:  # sent by the notification sweep through SMTP
        values["delivery_status"] = DeliveryStatus.PENDING
    else:  # in-app: there once written
        values["delivery_status"] = DeliveryStatus.SENT
        values["sent_at"] = records.now()
    communication_id = connection.execute(
        sa.insert(_communications).values(values).returning(AICommunication.id)
    ).scalar_one()
    return Outcome(communication_id=communication_id)
