"""``agentworker api`` stops on SIGTERM even while a stream of a running task is open (the
stream never ends by itself: uvicorn gives it ``GRACEFUL_SHUTDOWN_SECONDS``, then closes it).
Without that timeout the process waits for the stream for ever: this test then fails."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator

import httpx
import pytest
import sqlalchemy as sa

from models import EventType, Task, TaskStatus
from tests.support.agents import add_agent, ensure_tenant
from tests.support.environment import without_services
from tests.support.stack import ROOT
from worker.cli.api import GRACEFUL_SHUTDOWN_SECONDS
from worker.dev.services import free_port
from worker.durable import records
from worker.security.api_keys import issue_key
from worker.security.encryption import SecretBox, generate_key

START_SECONDS = 30.0
#: SIGTERM to exit: the grace period, then a margin for closing down.
EXIT_SECONDS = GRACEFUL_SHUTDOWN_SECONDS + 5


@pytest.fixture
def api_process(
    runtime_database_url: str, broker_url: str
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = free_port()
    env = without_services(DATABASE_URL=runtime_database_url, CELERY_BROKER_URL=broker_url)
    process = subprocess.Popen(
        [sys.executable, "-c", "from worker.cli import main; main()", "api", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:
            assert process.poll() is None, f"agentworker api exited: {process.stdout.read()}"  # type: ignore[union-attr]
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"agentworker api did not start in {START_SECONDS}s"
            time.sleep(0.1)
        yield base, process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def test_sigterm_stops_the_api_while_a_running_tasks_stream_is_open(
    api_process: tuple[str, subprocess.Popen[str]], engine: sa.Engine
) -> None:
    base, process = api_process
    add_agent(engine, "assistant", tenant="acme")
    with engine.begin() as connection:
        key = issue_key(
            connection,
            SecretBox([generate_key()]),
            tenant_id=ensure_tenant(engine, "acme"),
            name="svc",
            scopes=["submit", "read"],
        ).key
    auth = {"Authorization": f"Bearer {key}"}
    created = httpx.post(
        f"{base}/v1/tasks", json={"agent": "assistant", "input": "hi"}, headers=auth
    )
    assert created.status_code == 201, created.text
    task_id = created.json()["id"]
    with engine.begin() as connection:  # a worker has it: the stream will not end by itself
        connection.execute(
            sa.update(Task)
            .where(Task.id == task_id)
            .values(status=TaskStatus.RUNNING, started_at=sa.func.now())
        )
        scope = records.Scope(ensure_tenant(engine, "acme"), task_id=uuid.UUID(task_id))
        records.write(connection, events=[records.event(scope, EventType.LOG, "working")])

    opened, lines = threading.Event(), []

    def follow() -> None:
        try:
            with httpx.stream(
                "GET", f"{base}/v1/tasks/{task_id}/events/stream", headers=auth, timeout=60
            ) as response:
                assert response.status_code == 200
                for line in response.iter_lines():
                    lines.append(line)
                    if line.startswith("id:"):
                        opened.set()
        except httpx.HTTPError:
            pass  # the server closed the stream: what shutting down does
        finally:
            opened.set()

    follower = threading.Thread(target=follow, daemon=True)
    follower.start()
    assert opened.wait(15), "the stream sent nothing"
    assert process.poll() is None and any(line.startswith("id:") for line in lines), (
        "the stream is open and has sent the task's event"
    )
    assert httpx.get(f"{base}/v1/tasks/{task_id}", headers=auth).json()["status"] == "RUNNING"

    process.send_signal(signal.SIGTERM)
    started = time.monotonic()
    try:
        code = process.wait(timeout=EXIT_SECONDS)
    except subprocess.TimeoutExpired:
        pytest.fail(f"agentworker api still running {EXIT_SECONDS}s after SIGTERM")
    output = process.stdout.read() if process.stdout else ""
    # uvicorn shuts down in order, then re-raises the signal it caught (so the exit status is
    # "ended by SIGTERM", what a service manager expects of a stop), never a kill mid-way.
    assert code in (0, -signal.SIGTERM), output
    assert "Application shutdown complete." in output and "Finished server process" in output
    assert time.monotonic() - started < EXIT_SECONDS
    follower.join(5)
    assert not follower.is_alive(), "the stream was closed"
