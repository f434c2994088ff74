"""A real stack for end-to-end tests: worker processes (``celery worker``) against a test's
own database and Redis database, with the local LLM server running in the test process (so a
test can program its faults and read its request counts)."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa

from models import TaskStatus
from worker.app import create_app
from worker.client import AgentWorkerClient, TaskView
from worker.core.database_roles import ensure_runtime_login
from worker.core.settings import Settings
from worker.dev.llm_server import LocalLLMServer
from worker.dev.services import start_worker_process
from worker.durable.publishing import CeleryPublisher

ROOT = Path(__file__).resolve().parents[2]
TERMINAL = {TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.CANCELLED}
_names = itertools.count(1)
T = TypeVar("T")


@dataclass
class WorkerProcess:
    process: subprocess.Popen[bytes]
    name: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self, timeout: float = 20) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Stack:
    database_url: str
    broker_url: str
    llm: LocalLLMServer
    tmp: Path
    workers: list[WorkerProcess] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.app = create_app(self.broker_url)
        settings = Settings(
            database_url=self.database_url, openai_base_url=self.llm.base_url, local_llm=True
        )
        self.client = AgentWorkerClient(
            sa.create_engine(_psycopg(self.database_url)),
            CeleryPublisher(self.app),
            settings,
            tenant="acme",  # every read is scoped: the tests' tenant
        )
        self.engine = self.client.engine
        # The workers log in as the runtime role, which row-level security confines; the
        # test itself (self.engine) is the owner, and sees every tenant's rows.
        self.runtime_database_url = ensure_runtime_login(self.database_url)

    def worker_env(self, **overrides: str) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("AGENTWORKER_", "OPENAI_", "CELERY_"))
        }
        env.update(
            DATABASE_URL=self.runtime_database_url,
            CELERY_BROKER_URL=self.broker_url,
            OPENAI_BASE_URL=self.llm.base_url,
            AGENTWORKER_LOCAL_LLM="1",  # the stand-in, on purpose
            AGENTWORKER_LEASE_SECONDS="10",
            AGENTWORKER_LLM_BACKOFF_INITIAL_SECONDS="0.05",
            AGENTWORKER_LLM_BACKOFF_MAX_SECONDS="0.2",
            AGENTWORKER_PRICE_TABLE=json.dumps({"model-": {"input": 0.15, "output": 0.6}}),
            PYTHONUNBUFFERED="1",
        )
        env.update(overrides)
        return env

    def start_worker(
        self, *, concurrency: int = 4, beat: bool = False, wait: bool = True, **env: str
    ) -> WorkerProcess:
        name = f"w{next(_names)}-{uuid.uuid4().hex[:6]}@test"
        log_path = self.tmp / f"{name}.log"
        process = start_worker_process(
            self.worker_env(**env),
            log_path,
            concurrency=concurrency,
            beat=beat,
            hostname=name,
            extra_args=("--without-gossip", "--without-mingle"),
        )
        worker = WorkerProcess(process, name, log_path)
        self.workers.append(worker)
        if wait:
            self.wait_ready(worker)
        return worker

    def wait_ready(self, worker: WorkerProcess, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if worker.process.poll() is not None:
                raise AssertionError(f"worker exited early:\n{worker.log()[-4000:]}")
            if " ready." in worker.log():
                return
            time.sleep(0.1)
        raise AssertionError(f"worker not ready in {timeout}s:\n{worker.log()[-4000:]}")

    def wait_for(
        self, task_id: uuid.UUID, *, statuses: set[TaskStatus] = TERMINAL, timeout: float = 30
    ) -> TaskView:
        return wait_until(
            lambda: view if (view := self.client.get_task(task_id)).status in statuses else None,
            timeout=timeout,
            failure=lambda: (
                f"task {task_id} is {self.client.get_task(task_id).status}; "
                f"worker logs:\n" + "\n".join(w.log()[-3000:] for w in self.workers)
            ),
        )

    def llm_admin(self, method: str, path: str, body: Any = None) -> Any:
        """Call the local LLM server's admin API (``/_faults``, ``/_stats``)."""
        root = self.llm.base_url.removesuffix("/v1")
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            root + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read() or b"null")

    def program_faults(self, model: str, *faults: dict[str, Any]) -> None:
        self.llm_admin("POST", "/_faults", {"model": model, "faults": list(faults)})

    def llm_requests(self, model: str) -> int:
        return int(self.llm_admin("GET", "/_stats")["by_model"].get(model, 0))

    def rows(self, sql: str, **params: Any) -> list[sa.Row[Any]]:
        with self.engine.connect() as connection:
            return list(connection.execute(sa.text(sql), params).all())

    def close(self) -> None:
        for worker in self.workers:
            worker.stop()
        self.client.close()


def wait_until(
    probe: Callable[[], T | None],
    *,
    timeout: float,
    failure: Callable[[], str],
    interval: float = 0.05,
) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = probe()
        if value is not None:
            return value
        time.sleep(interval)
    raise AssertionError(failure())


def _psycopg(url: str) -> str:
    from models.db import database_url

    return database_url(url).render_as_string(hide_password=False)


def stack_context(database_url: str, broker_url: str, tmp: Path) -> Iterator[Stack]:
    with LocalLLMServer() as llm:
        stack = Stack(database_url, broker_url, llm, tmp)
        try:
            yield stack
        finally:
            stack.close()
