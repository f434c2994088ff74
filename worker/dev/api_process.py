"""The HTTP API and the approvers' inbox as a child process, for ``agentworker dev`` and
``make demo``: ``agentworker api`` on a local port, ready once ``/readyz`` answers."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ApiProcess:
    process: subprocess.Popen[bytes]
    url: str

    @property
    def inbox_url(self) -> str:
        return f"{self.url}/inbox"


def start_api_process(env: dict[str, str], log_path: Path, port: int) -> ApiProcess:
    url = f"http://127.0.0.1:{port}"
    command = [
        sys.executable,
        "-c",
        "from worker.cli import main; main()",
        "api",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command,
            env={**env, "AGENTWORKER_PUBLIC_URL": env.get("AGENTWORKER_PUBLIC_URL", url)},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return ApiProcess(process, url)


def wait_for_api(api: ApiProcess, log_path: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if api.process.poll() is not None:
            raise RuntimeError(
                f"the API exited with code {api.process.returncode}; its log "
                f"({log_path}):\n{log_path.read_text(errors='replace')[-3000:]}"
            )
        try:
            with urllib.request.urlopen(f"{api.url}/readyz", timeout=1) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the API did not answer {api.url}/readyz within {timeout}s; see {log_path}")
