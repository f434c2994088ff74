"""``agentworker dev``: the long-running local stack starts, serves, stops and keeps its data."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from base64 import b64encode
from pathlib import Path

from tests.support.environment import without_services
from tests.support.stack import ROOT, wait_until
from worker.dev.services import free_port


def _start(tmp_path: Path, flower_port: int) -> tuple[subprocess.Popen[str], Path]:
    env = without_services(FLOWER_BASIC_AUTH="ops:dev-password")
    output = tmp_path / f"dev-{flower_port}.out"
    with output.open("w") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from worker.cli import main; main()",
                "dev",
                "--data-dir",
                str(tmp_path / "data"),
                "--flower-port",
                str(flower_port),
                "--metrics-port",
                "0",
                "--api-port",
                "0",
                "--concurrency",
                "4",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
    wait_until(
        lambda: "is ready" in output.read_text() or None,
        timeout=90,
        failure=lambda: output.read_text()[-4000:],
    )
    return process, output


def _exports(output: Path) -> dict[str, str]:
    return dict(re.findall(r"export (\w+)='([^']*)'", output.read_text()))


def _inbox(output: Path) -> tuple[str, str, str]:
    """The inbox URL and the demo approver's sign-in, as ``agentworker dev`` printed them."""
    found = re.search(r"inbox\s+(\S+)\s+\(sign in as (\S+), password (\S+)\)", output.read_text())
    assert found, output.read_text()[-3000:]
    return found.group(1), found.group(2), found.group(3)


def _sign_in_to_the_inbox(inbox_url: str, email: str, password: str) -> str:
    """Sign in through the inbox's form (with its CSRF token) and return the inbox page."""
    import httpx

    with httpx.Client(timeout=10) as browser:
        form = browser.get(f"{inbox_url}/sign-in").text
        token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', form)
        assert token, form
        signed_in = browser.post(
            f"{inbox_url}/sign-in",
            data={"email": email, "password": password, "csrf_token": token.group(1)},
            follow_redirects=True,
        )
        assert signed_in.status_code == 200, signed_in.text
        return signed_in.text


def _stop(process: subprocess.Popen[str]) -> int:
    os.killpg(process.pid, signal.SIGINT)
    return process.wait(60)


def _agentworker(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from worker.cli import main; main()", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_dev_serves_flower_runs_jobs_stops_cleanly_and_keeps_its_data(tmp_path: Path) -> None:
    import urllib.request

    port = free_port()
    process, output = _start(tmp_path, port)
    try:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/api/workers",
            headers={"Authorization": "Basic " + b64encode(b"ops:dev-password").decode()},
        )
        wait_until(
            lambda: urllib.request.urlopen(request, timeout=10).status == 200 or None,
            timeout=30,
            failure=lambda: "Flower did not answer",
        )
        inbox_url, email, password = _inbox(output)
        api_url = inbox_url.removesuffix("/inbox")
        assert urllib.request.urlopen(f"{api_url}/readyz", timeout=10).status == 200
        assert email in _sign_in_to_the_inbox(inbox_url, email, password)
        env = _exports(output)
        submitted = _agentworker(
            env, "submit", "--tenant", "acme", "--agent", "assistant", "--input", "hello", "--wait"
        )
        assert submitted.returncode == 0, submitted.stdout + submitted.stderr
        task_id = submitted.stdout.split()[1]
    finally:
        code = _stop(process)
    assert code == 0, output.read_text()[-3000:]
    assert "stopped; data kept in" in output.read_text()

    process, output = _start(tmp_path, free_port())
    try:
        status = _agentworker(_exports(output), "status", task_id, "--tenant", "acme")
        assert status.returncode == 0, status.stderr
        assert "SUCCEEDED" in status.stdout
    finally:
        assert _stop(process) == 0
