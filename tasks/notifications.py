"""Notification delivery: the beat sweep, and one attempt at a webhook delivery or an email
row (published by ``agentworker webhooks resend``, or by anyone who wants one sent now)."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, ConfigDict

from models.tenant_scope import tenant_scope
from tasks.options import RETRY_ON_DATABASE_ERRORS
from worker.app import app
from worker.app.process import process_runtime
from worker.notifications.emails import deliver_email
from worker.notifications.sweep import sweep as sweep_due
from worker.notifications.task_names import DELIVER_WEBHOOK, SEND_EMAIL, SWEEP
from worker.notifications.webhooks import deliver_webhook
from worker.security.encryption import SecretBox


class _Delivery(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    tenant_id: uuid.UUID
    delivery_id: uuid.UUID


class _Email(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    tenant_id: uuid.UUID
    communication_id: uuid.UUID


@app.task(name=SWEEP, ignore_result=True, **RETRY_ON_DATABASE_ERRORS)
def sweep() -> dict[str, int]:
    runtime = process_runtime()
    report = sweep_due(runtime.engine, runtime.settings)
    return {**report.outcomes, "emails_waiting_for_smtp": report.emails_waiting_for_smtp}


@app.task(name=DELIVER_WEBHOOK, ignore_result=True, **RETRY_ON_DATABASE_ERRORS)
def deliver(**payload: str) -> dict[str, str]:
    request = _Delivery.model_validate(payload)
    runtime = process_runtime()
    with tenant_scope(request.tenant_id):
        outcome = deliver_webhook(
            runtime.engine,
            runtime.settings,
            SecretBox.from_settings(runtime.settings),
            request.delivery_id,
        )
    return {"delivery_id": str(request.delivery_id), "outcome": outcome.outcome}


@app.task(name=SEND_EMAIL, ignore_result=True, **RETRY_ON_DATABASE_ERRORS)
def send_email(**payload: str) -> dict[str, str]:
    request = _Email.model_validate(payload)
    runtime = process_runtime()
    with tenant_scope(request.tenant_id):
        outcome = deliver_email(runtime.engine, runtime.settings, request.communication_id)
    return {"communication_id": str(request.communication_id), "outcome": outcome.outcome}
