"""``agentworker api`` in its own process (its own GIL, as deployed), on a free port, logged in
as the confined runtime role with an ``application_name`` of its own, so the connections it
holds can be counted in ``pg_stat_activity``."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from pathlib import Path

import httpx

from models import db
from tests.bench.procs import ROOT, BenchError, clean_env, log_tail
from worker.core.database_roles import ensure_runtime_login
from worker.dev.services import free_port, stop_process

APPLICATION = "agentworker-bench-api"


def api_database_url(owner_url: str) -> str:
    """The bench database through the runtime role, named ``APPLICATION`` to the server."""
    url = db.database_url(ensure_runtime_login(owner_url))
    return url.update_query_dict({"application_name": APPLICATION}).render_as_string(
        hide_password=False
    )


class ApiServerProcess:
    def __init__(self, log_path: Path, database_url: str, broker_url: str, **env: str) -> None:
        self.log_path = log_path
        self.port = free_port()
        self.env = clean_env(
            DATABASE_URL=api_database_url(database_url), CELERY_BROKER_URL=broker_url, **env
        )
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> str:
        command = [
            sys.executable,
            "-c",
            "from worker.cli import main; main()",
            "api",
            "--port",
            str(self.port),
        ]
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                command,
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BenchError(
                    f"agentworker api exited with code {self.process.returncode}\n"
                    + log_tail(self.log_path)
                )
            with contextlib.suppress(httpx.TransportError):
                httpx.get(self.base + "/healthz", timeout=1).raise_for_status()
                return self.base
            time.sleep(0.1)
        raise BenchError(
            f"agentworker api did not answer within {timeout}s\n" + log_tail(self.log_path)
        )

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process, timeout=10)
            self.process = None

    def __enter__(self) -> ApiServerProcess:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
