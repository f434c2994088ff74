"""Webhooks: the database writes one delivery per subscribed endpoint with each state change (and
none for a change that rolls back); the worker POSTs it signed the Standard Webhooks way to a real
receiver, which verifies it; a failing receiver is retried with backoff, then the delivery is
FAILED with its last response; the CLI adds, lists, resends and removes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet

from models import ApprovalKind, ApprovalStatus, ExecutionStatus, TaskStatus
from models.tenant_scope import tenant_scope
from tests.support.agents import add_agent, ensure_tenant
from tests.support.rows import RowFactory
from tests.support.stack import ROOT, stack_context, wait_until
from worker.approvals.requests import request_approval
from worker.core.database_roles import ensure_runtime_login
from worker.core.settings import Settings
from worker.durable import records
from worker.durable.publishing import CeleryPublisher
from worker.durable.states import APPROVAL, EXECUTION, TASK
from worker.notifications import (
    InvalidEndpoint,
    InvalidSignature,
    add_endpoint,
    list_deliveries,
    sweep,
    verify,
)
from worker.notifications.task_names import DELIVER_WEBHOOK
from worker.security.encryption import SecretBox

KEY = Fernet.generate_key().decode()


@dataclass
class Receiver:
    """A real HTTP server in a thread: answers ``status`` and keeps what it was sent; with a
    secret, it verifies each request's signature as a receiver should."""

    status: int = 200
    secret: str | None = None
    received: list[dict[str, Any]] = field(default_factory=list)

    def start(self) -> str:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                headers = {name.lower(): value for name, value in self.headers.items()}
                verified: str | None = None
                if receiver.secret is not None:
                    try:
                        verify(receiver.secret, headers, body)
                        verified = "ok"
                    except InvalidSignature as error:
                        verified = str(error)
                receiver.received.append(
                    {"headers": headers, "body": json.loads(body), "verified": verified}
                )
                reply = b"ok" if receiver.status < 300 else b"receiver is down for maintenance"
                self.send_response(receiver.status)
                self.send_header("content-length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.stop()


def _settings(**overrides: Any) -> Settings:
    return Settings(encryption_keys=(KEY,), webhook_timeout_seconds=5, **overrides)


def _endpoint(
    engine: sa.Engine, tenant_id: uuid.UUID, url: str, events: tuple[str, ...] = ("*",)
) -> str:
    with tenant_scope(tenant_id), engine.begin() as connection:
        return add_endpoint(
            connection, SecretBox([KEY]), tenant_id=tenant_id, url=url, event_types=events
        ).secret


def _task(engine: sa.Engine, tenant_id: uuid.UUID) -> uuid.UUID:
    with engine.begin() as connection:
        task_id: uuid.UUID = RowFactory(connection).insert(
            "tasks", tenant_id=tenant_id, agent_name="planner", title="plan the venue"
        )
    return task_id


def _finish_task(engine: sa.Engine, tenant_id: uuid.UUID, task_id: uuid.UUID) -> None:
    with tenant_scope(tenant_id), engine.begin() as connection:
        TASK.apply_or_raise(connection, task_id, TaskStatus.RUNNING)
        TASK.apply_or_raise(
            connection,
            task_id,
            TaskStatus.SUCCEEDED,
            values={"result_summary": "three venues", "finished_at": sa.func.now()},
        )


def _deliveries(engine: sa.Engine, tenant_id: uuid.UUID) -> list[Any]:
    with tenant_scope(tenant_id), engine.begin() as connection:
        return list_deliveries(connection, tenant_id)


def _sweep_until(engine: sa.Engine, settings: Settings, done: Any, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sweep(engine, settings)
        if done():
            return
        time.sleep(0.1)
    raise AssertionError("the deliveries did not finish in time")


def test_a_succeeded_task_is_posted_signed_and_the_receiver_verifies_it(
    engine: sa.Engine, runtime_engine: sa.Engine, receiver: Receiver
) -> None:
    tenant_id = ensure_tenant(engine)
    url = receiver.start()
    receiver.secret = _endpoint(runtime_engine, tenant_id, url, ("task.succeeded",))
    task_id = _task(engine, tenant_id)

    _finish_task(runtime_engine, tenant_id, task_id)
    (delivery,) = _deliveries(runtime_engine, tenant_id)
    assert (delivery.status, delivery.attempts) == ("pending", 0)  # the outbox row, not yet sent
    report = sweep(runtime_engine, _settings())

    assert report.outcomes == {"webhook succeeded": 1}
    (request,) = receiver.received
    assert request["verified"] == "ok"
    assert request["headers"]["webhook-id"] == str(delivery.event_id)
    assert request["headers"]["content-type"] == "application/json"
    body = request["body"]
    assert body["type"] == "task.succeeded"
    assert body["data"]["task_id"] == str(task_id)
    assert body["data"]["status"] == "SUCCEEDED"
    assert body["data"]["result_summary"] == "three venues"
    assert body["timestamp"].endswith("Z")
    (delivered,) = _deliveries(runtime_engine, tenant_id)
    assert (delivered.status, delivered.attempts, delivered.last_status_code) == (
        "succeeded",
        1,
        200,
    )
    assert delivered.delivered_at is not None
    assert sweep(runtime_engine, _settings()).outcomes == {}  # sent once, never again


def test_a_failing_receiver_is_retried_with_backoff_then_the_delivery_is_failed(
    engine: sa.Engine, runtime_engine: sa.Engine, receiver: Receiver
) -> None:
    tenant_id = ensure_tenant(engine)
    receiver.status = 500
    _endpoint(runtime_engine, tenant_id, receiver.start(), ("task.*",))
    settings = _settings(
        webhook_max_attempts=3,
        webhook_backoff_initial_seconds=1.0,
        webhook_backoff_max_seconds=1.0,
    )
    _finish_task(runtime_engine, tenant_id, _task(engine, tenant_id))

    assert sweep(runtime_engine, settings).outcomes == {"webhook retrying": 1}
    (waiting,) = _deliveries(runtime_engine, tenant_id)
    assert waiting.status == "pending"
    assert waiting.attempts == 1
    assert waiting.last_status_code == 500
    assert waiting.next_attempt_at > waiting.last_attempt_at  # backing off: not due at once
    assert sweep(runtime_engine, settings).outcomes == {}
    _sweep_until(
        runtime_engine,
        settings,
        lambda: _deliveries(runtime_engine, tenant_id)[0].status != "pending",
    )

    (failed,) = _deliveries(runtime_engine, tenant_id)
    assert (failed.status, failed.attempts, failed.last_status_code) == ("failed", 3, 500)
    assert failed.last_error == "the receiver answered HTTP 500"
    assert failed.last_response == "receiver is down for maintenance"
    assert len(receiver.received) == 3
    assert len({r["headers"]["webhook-id"] for r in receiver.received}) == 1  # one event


def test_an_unreachable_receiver_keeps_the_connection_error(
    engine: sa.Engine, runtime_engine: sa.Engine, receiver: Receiver
) -> None:
    tenant_id = ensure_tenant(engine)
    url = receiver.start()
    receiver.stop()  # nobody listens there any more
    receiver.start()  # (so the fixture's stop has a server to stop)
    _endpoint(runtime_engine, tenant_id, url, ("task.succeeded",))
    _finish_task(runtime_engine, tenant_id, _task(engine, tenant_id))

    assert sweep(runtime_engine, _settings(webhook_max_attempts=1)).outcomes == {
        "webhook failed": 1
    }
    (failed,) = _deliveries(runtime_engine, tenant_id)
    assert failed.last_status_code is None
    assert failed.last_error is not None and failed.last_error.startswith("ConnectError")


def test_a_change_that_rolls_back_writes_no_delivery_and_only_subscribers_get_one(
    engine: sa.Engine, runtime_engine: sa.Engine
) -> None:
    tenant_id = ensure_tenant(engine)
    other = ensure_tenant(engine, "globex")
    _endpoint(runtime_engine, tenant_id, "https://tasks.example/hook", ("task.succeeded",))
    _endpoint(runtime_engine, tenant_id, "https://runs.example/hook", ("execution.*",))
    _endpoint(runtime_engine, other, "https://globex.example/hook", ("*",))
    task_id = _task(engine, tenant_id)

    with tenant_scope(tenant_id), runtime_engine.connect() as connection:
        transaction = connection.begin()
        TASK.apply_or_raise(connection, task_id, TaskStatus.RUNNING)
        TASK.apply_or_raise(connection, task_id, TaskStatus.SUCCEEDED)
        transaction.rollback()
    assert _deliveries(runtime_engine, tenant_id) == []

    _finish_task(runtime_engine, tenant_id, task_id)
    (delivery,) = _deliveries(runtime_engine, tenant_id)
    assert (delivery.url, delivery.event_type) == ("https://tasks.example/hook", "task.succeeded")
    assert _deliveries(runtime_engine, other) == []  # another tenant's endpoint hears nothing


def test_execution_and_approval_changes_become_their_events(
    engine: sa.Engine, runtime_engine: sa.Engine
) -> None:
    tenant_id = ensure_tenant(engine)
    _endpoint(runtime_engine, tenant_id, "https://all.example/hook")
    with engine.begin() as connection:
        execution_id = RowFactory(connection).insert(
            "ai_workflow_executions", tenant_id=tenant_id, status=ExecutionStatus.PENDING
        )
    with tenant_scope(tenant_id), runtime_engine.begin() as connection:
        EXECUTION.apply_or_raise(connection, execution_id, ExecutionStatus.RUNNING)
        approval_id, _ = request_approval(
            connection,
            tenant_id=tenant_id,
            kind=ApprovalKind.WORKFLOW_STEP,
            title="book the hall",
            payload={"show": "Book it?"},
            scope=records.Scope(tenant_id, workflow_execution_id=execution_id),
            step_key="book",
            step_attempt=1,
        )
        EXECUTION.apply_or_raise(connection, execution_id, ExecutionStatus.AWAITING_APPROVAL)
    with tenant_scope(tenant_id), runtime_engine.begin() as connection:
        APPROVAL.apply_or_raise(
            connection,
            approval_id,
            ApprovalStatus.APPROVED,
            values={"decided_at": sa.func.now(), "decision_comment": "go"},
        )
        EXECUTION.apply_or_raise(connection, execution_id, ExecutionStatus.RUNNING)
        EXECUTION.apply_or_raise(connection, execution_id, ExecutionStatus.COMPLETED)

    deliveries = sorted(
        _deliveries(runtime_engine, tenant_id), key=lambda d: d.payload["timestamp"]
    )
    assert [d.event_type for d in deliveries] == [
        "execution.started",
        "approval.requested",
        "execution.waiting",
        "approval.decided",
        "execution.resumed",
        "execution.succeeded",
    ]
    decided = deliveries[3].payload["data"]
    assert (decided["approval_id"], decided["status"], decided["decision_comment"]) == (
        str(approval_id),
        "approved",
        "go",
    )
    assert deliveries[5].payload["data"]["execution_id"] == str(execution_id)


def test_an_endpoint_must_name_known_events_and_an_http_url(
    engine: sa.Engine, runtime_engine: sa.Engine
) -> None:
    tenant_id = ensure_tenant(engine)
    with pytest.raises(InvalidEndpoint, match=r"unknown event type.*task\.done"):
        _endpoint(runtime_engine, tenant_id, "https://x.example/h", ("task.done",))
    with pytest.raises(InvalidEndpoint, match="not an http:// or https:// URL"):
        _endpoint(runtime_engine, tenant_id, "ftp://x.example/h")


def _cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from worker.cli import main; main()", "webhooks", *args],
        cwd=ROOT,
        env={
            **os.environ,
            "DATABASE_URL": ensure_runtime_login(database_url),
            "AGENTWORKER_ENCRYPTION_KEYS": KEY,
            "CELERY_BROKER_URL": "redis://127.0.0.1:1/0",  # no broker: the sweep sends it
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_cli_adds_lists_shows_deliveries_resends_and_removes(
    database_url: str, engine: sa.Engine, runtime_engine: sa.Engine, receiver: Receiver
) -> None:
    tenant_id = ensure_tenant(engine)
    url = receiver.start()

    added = _cli(database_url, "add", "--tenant", "acme", "--url", url, "--event", "task.*")
    assert added.returncode == 0, added.stderr
    secret = added.stdout.strip()
    assert secret.startswith("whsec_")
    assert "not shown again" in added.stderr
    listed = _cli(database_url, "list", "--tenant", "acme", "--json")
    (endpoint,) = json.loads(listed.stdout)
    assert (endpoint["url"], endpoint["event_types"]) == (url, ["task.*"])
    assert secret not in listed.stdout

    receiver.secret = secret
    _finish_task(runtime_engine, tenant_id, _task(engine, tenant_id))
    sweep(runtime_engine, _settings())
    shown = _cli(database_url, "deliveries", "--tenant", "acme", "--json")
    (delivery,) = json.loads(shown.stdout)
    assert (delivery["status"], delivery["attempts"]) == ("succeeded", 1)

    resent = _cli(database_url, "resend", "--tenant", "acme", delivery["delivery_id"])
    assert resent.returncode == 0, resent.stderr
    assert "sweep sends it" in resent.stderr  # no broker here
    sweep(runtime_engine, _settings())
    assert len(receiver.received) == 2
    assert {r["verified"] for r in receiver.received} == {"ok"}
    assert len({r["headers"]["webhook-id"] for r in receiver.received}) == 1  # the same event
    table = _cli(database_url, "deliveries", "--tenant", "acme", "--status", "succeeded")
    assert table.stdout.count("task.succeeded") == 2

    removed = _cli(database_url, "remove", "--tenant", "acme", endpoint["endpoint_id"])
    assert removed.returncode == 0, removed.stderr
    assert "no webhook endpoints" in _cli(database_url, "list", "--tenant", "acme").stdout
    unknown = _cli(database_url, "remove", "--tenant", "acme", endpoint["endpoint_id"])
    assert unknown.returncode == 1
    assert "see `agentworker webhooks list`" in unknown.stderr


def test_a_real_workers_finished_run_reaches_the_receiver(
    database_url: str, broker_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    url = receiver.start()
    with contextmanager(stack_context)(database_url, broker_url, tmp_path) as stack:
        tenant_id = ensure_tenant(stack.engine)
        add_agent(stack.engine, "assistant")
        receiver.secret = _endpoint(stack.engine, tenant_id, url, ("task.*",))
        stack.start_worker(
            beat=True,
            AGENTWORKER_ENCRYPTION_KEYS=KEY,
            AGENTWORKER_NOTIFICATION_SWEEP_INTERVAL_SECONDS="0.5",
        )
        task_id = stack.client.submit(tenant="acme", agent="assistant", input="Say hello")
        assert stack.wait_for(task_id).status == TaskStatus.SUCCEEDED

        request = wait_until(
            lambda: receiver.received[0] if receiver.received else None,
            timeout=30,
            failure=lambda: "nothing was delivered:\n" + stack.workers[0].log()[-3000:],
        )
    assert request["verified"] == "ok"
    assert request["body"]["type"] == "task.succeeded"
    assert request["body"]["data"]["task_id"] == str(task_id)
    assert len(receiver.received) == 1


def test_a_published_delivery_task_sends_it_without_waiting_for_the_sweep(
    database_url: str, broker_url: str, tmp_path: Path, receiver: Receiver
) -> None:
    url = receiver.start()
    with contextmanager(stack_context)(database_url, broker_url, tmp_path) as stack:
        tenant_id = ensure_tenant(stack.engine)
        receiver.secret = _endpoint(stack.engine, tenant_id, url, ("task.succeeded",))
        stack.start_worker(AGENTWORKER_ENCRYPTION_KEYS=KEY)  # no beat: no sweep runs
        _finish_task(stack.engine, tenant_id, _task(stack.engine, tenant_id))
        (delivery,) = _deliveries(stack.engine, tenant_id)

        CeleryPublisher(stack.app).publish(
            DELIVER_WEBHOOK, {"tenant_id": str(tenant_id), "delivery_id": str(delivery.delivery_id)}
        )
        request = wait_until(
            lambda: receiver.received[0] if receiver.received else None,
            timeout=30,
            failure=lambda: "nothing was delivered:\n" + stack.workers[0].log()[-3000:],
        )
        assert request["verified"] == "ok"
        wait_until(
            lambda: _deliveries(stack.engine, tenant_id)[0].status == "succeeded" or None,
            timeout=10,
            failure=lambda: f"not recorded: {_deliveries(stack.engine, tenant_id)}",
        )
