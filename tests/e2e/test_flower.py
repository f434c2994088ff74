"""Operators watch the workers in Flower; Flower never shows a secret."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
import uuid
from base64 import b64encode
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from models import TaskStatus
from tests.support.agents import add_agent
from tests.support.stack import ROOT, Stack, wait_until
from worker.dev.services import free_port, stop_process

AUTH = "ops:flower-test-password"


@pytest.fixture
def flower(stack: Stack, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    log = (tmp_path / "flower.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "worker.app",
            "flower",
            f"--port={port}",
            "--address=127.0.0.1",
            f"--basic_auth={AUTH}",
            "--inspect_timeout=3000",
        ],
        cwd=ROOT,
        env=stack.worker_env(),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            lambda: _status(url + "/healthcheck") == 200 or None,
            timeout=30,
            failure=lambda: (tmp_path / "flower.log").read_text(),
        )
        yield url
    finally:
        stop_process(process)
        log.close()


def _status(url: str, auth: str | None = None) -> int | None:
    try:
        return _get(url, auth)[0]
    except OSError:
        return None


def _get(url: str, auth: str | None = AUTH) -> tuple[int, str]:
    headers = {"Authorization": "Basic " + b64encode(auth.encode()).decode()} if auth else {}
    try:
        with urllib.request.urlopen(
            urllib.request.Request(url, headers=headers), timeout=15
        ) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_flower_lists_every_task_and_never_shows_a_secret(stack: Stack, flower: str) -> None:
    slow = add_agent(stack.engine, "slow")
    add_agent(stack.engine, "helper")
    stack.program_faults(slow, {"delay_ms": 8000})
    environment_secret = "crm-" + uuid.uuid4().hex
    payload_secret = "sk-live-" + "Q1w2E3r4" * 3
    worker = stack.start_worker(
        concurrency=1, AGENTWORKER_PREFETCH_MULTIPLIER="4", CRM_API_TOKEN=environment_secret
    )
    # Flower's worker page asks for one worker, and only then lists its tasks.
    worker_page = f"{flower}/api/workers?refresh=1&workername={worker.name}"
    secrets = (payload_secret, environment_secret)

    first = stack.client.submit(tenant="acme", agent="slow", input=f"use {payload_secret}")
    # Running before the others are sent: a bare send_task has no message priority, which
    # Redis serves before our client's normal one (README, the contract), so sent together
    # with it they would run first.
    stack.wait_for(first, statuses={TaskStatus.RUNNING})
    raw: list[Any] = [
        stack.app.send_task(
            "agents.run_task",
            queue="agents",
            kwargs={
                "tenant": "acme",
                "agent": "helper",
                "input": f"token {payload_secret} and {environment_secret}",
                "metadata": {"api_key": payload_secret, "note": f"password={environment_secret}"},
            },
        )
        for _ in range(3)
    ]

    # While the slow task runs, the others wait in the worker's reserved list.
    def workers_with_reserved() -> dict[str, Any] | None:
        status, body = _get(worker_page)
        assert status == 200, body
        for secret in secrets:
            assert secret not in body
        workers = json.loads(body)
        reserved = [r for w in workers.values() for r in (w.get("reserved") or [])]
        return workers if reserved and any(w.get("active") for w in workers.values()) else None

    workers = wait_until(
        workers_with_reserved,
        timeout=20,
        failure=lambda: _get(worker_page)[1][-3000:],
    )
    reserved = [r for w in workers.values() for r in w["reserved"]]
    assert any(r["kwargs"].get("metadata", {}).get("api_key") == "[REDACTED]" for r in reserved)

    for message in raw:
        stack.wait_for(_task_of(stack, message.id))
    stack.wait_for(first)

    def all_listed() -> dict[str, Any] | None:
        status, body = _get(flower + "/api/tasks")
        assert status == 200, body
        tasks = json.loads(body)
        ids = [str(first), *(m.id for m in raw)]
        done = all(tasks.get(i, {}).get("state") == "SUCCESS" for i in ids)
        return tasks if done else None

    tasks = wait_until(all_listed, timeout=20, failure=lambda: _get(flower + "/api/tasks")[1])
    for message in raw:
        assert tasks[message.id]["name"] == "agents.run_task"
    bodies = [
        _get(flower + "/api/tasks")[1],
        *(_get(f"{flower}/api/task/info/{m.id}")[1] for m in raw),
        _get(flower + "/tasks")[1],
        _get(f"{flower}/task/{raw[0].id}")[1],
    ]
    for body in bodies:
        for secret in secrets:
            assert secret not in body
    assert "[REDACTED]" in _get(f"{flower}/api/task/info/{raw[0].id}")[1]


def _task_of(stack: Stack, message_id: str) -> uuid.UUID:
    return wait_until(
        lambda: next(
            (
                r.id
                for r in stack.rows(
                    "SELECT id FROM tasks WHERE broker_message_id = :m", m=message_id
                )
            ),
            None,
        ),
        timeout=30,
        failure=lambda: f"no task for {message_id}",
    )


def test_flower_refuses_requests_without_credentials(stack: Stack, flower: str) -> None:
    assert _get(flower + "/api/tasks", auth=None)[0] == 401
    assert _get(flower + "/api/workers", auth="ops:wrong")[0] == 401
    assert _get(flower + "/api/tasks")[0] == 200
