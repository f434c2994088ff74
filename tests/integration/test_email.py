"""Email through SMTP, against a real local SMTP server (aiosmtpd): an approver's message with a
link to the approval's page; the ``send_email`` tool's message once approved, through a real
worker; SENT only when the server took it, FAILED with the reason otherwise, PENDING (and said
so) while no server is configured."""

from __future__ import annotations

import logging
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller

from models import ApprovalKind, DeliveryStatus, TaskStatus
from models.tenant_scope import tenant_scope
from tests.support.agents import add_agent, ensure_tenant
from tests.support.people import add_member
from tests.support.rows import RowFactory
from tests.support.stack import stack_context, wait_until
from worker.approvals.requests import request_approval
from worker.core.settings import Settings
from worker.durable import records
from worker.notifications import NOT_CONFIGURED, deliver_email, message_id_of, sweep

PUBLIC_URL = "https://inbox.acme.test"


class Mailbox:
    """What the SMTP server accepted; ``refuse`` makes it answer 550 for that address, and
    ``delay`` makes it slow to accept a message."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.refuse: set[str] = set()
        self.delay = 0.0

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such mailbox here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay:
            time.sleep(self.delay)  # holds the server's loop: a slow server, on purpose
        message = message_from_bytes(envelope.original_content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 Message accepted for delivery"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, str]]:
    mailbox = Mailbox()
    port = _free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield mailbox, f"smtp://127.0.0.1:{port}"
    finally:
        controller.stop()


def _settings(smtp_url: str | None, **overrides: Any) -> Settings:
    return Settings(
        smtp_url=smtp_url,
        email_from="agents@acme.test",
        public_url=PUBLIC_URL,
        smtp_timeout_seconds=5,
        **overrides,
    )


def _email_row(engine: sa.Engine, tenant_id: uuid.UUID, to: str) -> uuid.UUID:
    with engine.begin() as connection:
        row_id: uuid.UUID = RowFactory(connection).insert(
            "ai_communications",
            tenant_id=tenant_id,
            communication_type="email",
            recipient_type="user",
            subject="Venue",
            content="We are coming on Friday.",
            personalization_data={"to": to},
            delivery_status="pending",
        )
    return row_id


def _row(engine: sa.Engine, row_id: uuid.UUID) -> Any:
    with engine.connect() as connection:
        return connection.execute(
            sa.text(
                "SELECT c.delivery_status, c.sent_at, c.engagement_metrics, d.attempts, "
                "d.last_error FROM ai_communications c "
                "LEFT JOIN email_deliveries d ON d.communication_id = c.id WHERE c.id = :i"
            ),
            {"i": row_id},
        ).one()


def test_an_approver_gets_an_email_with_a_link_to_the_approvals_page(
    engine: sa.Engine, runtime_engine: sa.Engine, smtp: tuple[Mailbox, str]
) -> None:
    mailbox, url = smtp
    tenant_id = ensure_tenant(engine)
    add_member(engine, "acme", "rita@acme.test", "approver")
    add_member(engine, "acme", "mia@acme.test", "member")  # may not decide: no email
    with engine.begin() as connection:
        task_id = RowFactory(connection).insert("tasks", tenant_id=tenant_id)
    with tenant_scope(tenant_id), runtime_engine.begin() as connection:
        approval_id, _ = request_approval(
            connection,
            tenant_id=tenant_id,
            kind=ApprovalKind.TOOL_CALL,
            title="send_email to the venue",
            payload={"tool": "send_email"},
            scope=records.Scope(tenant_id, task_id=task_id),
            tool_call_id="call_1",
        )

    report = sweep(runtime_engine, _settings(url))

    assert report.outcomes == {"email sent": 1}
    (message,) = mailbox.messages
    assert message["To"] == "rita@acme.test"
    assert message["From"] == "agents@acme.test"
    assert message["Subject"] == "Approval needed: send_email to the venue"
    body = message.get_content()
    assert f"{PUBLIC_URL}/inbox/approvals/{approval_id}" in body
    with engine.connect() as connection:
        (row,) = connection.execute(
            sa.text(
                "SELECT id, delivery_status, sent_at FROM ai_communications "
                "WHERE communication_type = 'email'"
            )
        ).all()
    assert row.delivery_status == DeliveryStatus.SENT
    assert row.sent_at is not None
    assert message["Message-ID"] == message_id_of(row.id, "agents@acme.test")


def test_an_unreachable_smtp_server_retries_then_fails_the_row_with_the_reason(
    engine: sa.Engine, runtime_engine: sa.Engine
) -> None:
    tenant_id = ensure_tenant(engine)
    row_id = _email_row(engine, tenant_id, "venue@hall.test")
    nowhere = f"smtp://127.0.0.1:{_free_port()}"  # nothing listens there
    settings = _settings(nowhere, email_max_attempts=2)

    with tenant_scope(tenant_id):
        first = deliver_email(runtime_engine, settings, row_id)
        assert first.outcome == "retrying"
        assert _row(engine, row_id).delivery_status == DeliveryStatus.PENDING
        assert deliver_email(runtime_engine, settings, row_id).outcome == "skipped"  # backing off
        with engine.begin() as connection:  # the backoff has passed
            connection.execute(sa.text("UPDATE email_deliveries SET next_attempt_at = now()"))
        last = deliver_email(runtime_engine, settings, row_id)

    assert last.outcome == "failed"
    row = _row(engine, row_id)
    assert row.delivery_status == DeliveryStatus.FAILED
    assert row.sent_at is None
    assert row.attempts == 2
    assert "could not reach the SMTP server at 127.0.0.1" in row.last_error
    assert row.engagement_metrics["delivery_error"] == row.last_error


def test_a_permanent_refusal_fails_the_row_at_once(
    engine: sa.Engine, runtime_engine: sa.Engine, smtp: tuple[Mailbox, str]
) -> None:
    mailbox, url = smtp
    mailbox.refuse.add("gone@hall.test")
    tenant_id = ensure_tenant(engine)
    row_id = _email_row(engine, tenant_id, "gone@hall.test")

    with tenant_scope(tenant_id):
        outcome = deliver_email(runtime_engine, _settings(url), row_id)

    assert outcome.outcome == "failed"
    assert outcome.attempts == 1
    assert "550" in _row(engine, row_id).last_error
    assert mailbox.messages == []


def test_without_an_smtp_url_email_rows_stay_pending_and_the_log_says_why(
    engine: sa.Engine, runtime_engine: sa.Engine, caplog: pytest.LogCaptureFixture
) -> None:
    tenant_id = ensure_tenant(engine)
    row_id = _email_row(engine, tenant_id, "venue@hall.test")

    with caplog.at_level(logging.WARNING):
        report = sweep(runtime_engine, _settings(None))
        with tenant_scope(tenant_id):
            outcome = deliver_email(runtime_engine, _settings(None), row_id)

    assert report.emails_waiting_for_smtp == 1
    assert outcome.outcome == "not_configured"
    assert _row(engine, row_id).delivery_status == DeliveryStatus.PENDING
    assert NOT_CONFIGURED in caplog.text


def test_two_workers_sending_one_row_send_it_once(
    engine: sa.Engine, runtime_engine: sa.Engine, smtp: tuple[Mailbox, str]
) -> None:
    mailbox, url = smtp
    mailbox.delay = 0.5
    tenant_id = ensure_tenant(engine)
    row_id = _email_row(engine, tenant_id, "venue@hall.test")
    outcomes: list[str] = []
    start = threading.Barrier(2)

    def send() -> None:
        start.wait()
        with tenant_scope(tenant_id):
            outcomes.append(deliver_email(runtime_engine, _settings(url), row_id).outcome)

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert sorted(outcomes) == ["sent", "skipped"]
    assert len(mailbox.messages) == 1
    with tenant_scope(tenant_id):
        assert deliver_email(runtime_engine, _settings(url), row_id).outcome == "skipped"
    assert _row(engine, row_id).delivery_status == DeliveryStatus.SENT


def test_an_approved_send_email_reaches_the_smtp_server_through_a_real_worker(
    database_url: str, broker_url: str, tmp_path: Path, smtp: tuple[Mailbox, str]
) -> None:
    mailbox, url = smtp
    with contextmanager(stack_context)(database_url, broker_url, tmp_path) as stack:
        add_agent(stack.engine, "mailer", tools=["send_email"])
        add_member(stack.engine, "acme", "rita@acme.test", "approver")
        stack.start_worker(
            concurrency=2,
            beat=True,
            AGENTWORKER_SMTP_URL=url,
            AGENTWORKER_EMAIL_FROM="agents@acme.test",
            AGENTWORKER_PUBLIC_URL=PUBLIC_URL,
            AGENTWORKER_NOTIFICATION_SWEEP_INTERVAL_SECONDS="0.5",
        )
        task_id = stack.client.submit(tenant="acme", agent="mailer", input="Tell the venue")
        stack.wait_for(task_id, statuses={TaskStatus.AWAITING_APPROVAL})
        (approval,) = stack.client.approvals()
        asked = wait_until(
            lambda: mailbox.messages[0] if mailbox.messages else None,
            timeout=30,
            failure=lambda: "no approval email:\n" + stack.workers[0].log()[-3000:],
        )
        assert asked["To"] == "rita@acme.test"
        assert f"{PUBLIC_URL}/inbox/approvals/{approval.id}" in asked.get_content()
        queued = "SELECT id FROM ai_communications WHERE personalization_data ? 'tool_call_id'"
        assert stack.rows(queued) == []  # nothing is queued, let alone sent, before approval
        # The stand-in model's address is no address; the approver corrects it and approves.
        arguments = {**approval.payload["arguments"], "to": "venue@hall.test"}
        stack.client.resolve_approval(
            approval.id,
            "approve",
            user="rita@acme.test",
            digest=approval.digest,
            arguments=arguments,
        )
        task = stack.wait_for(task_id)
        assert task.status == TaskStatus.SUCCEEDED, task.error
        sent = wait_until(
            lambda: mailbox.messages[1] if len(mailbox.messages) > 1 else None,
            timeout=30,
            failure=lambda: (
                "no tool email; rows: "
                + repr(
                    stack.rows(
                        "SELECT c.delivery_status, c.personalization_data, c.engagement_metrics, "
                        "d.* FROM ai_communications c LEFT JOIN email_deliveries d "
                        "ON d.communication_id = c.id WHERE c.communication_type = 'email'"
                    )
                )
            ),
        )
        assert sent["To"] == arguments["to"]
        assert sent["Subject"] == arguments["subject"]
        assert sent.get_content().strip() == arguments["body"].strip()
        tool_email = (
            "SELECT id, delivery_status, sent_at FROM ai_communications "
            "WHERE personalization_data ->> 'tool_call_id' IS NOT NULL"
        )
        # SENT is recorded once the server has answered: just after it has the message.
        row = wait_until(
            lambda: next((r for r in stack.rows(tool_email) if r.delivery_status == "sent"), None),
            timeout=10,
            failure=lambda: f"the tool's email row is not SENT: {stack.rows(tool_email)}",
        )
        assert row.sent_at is not None
        assert sent["Message-ID"] == message_id_of(row.id, "agents@acme.test")
