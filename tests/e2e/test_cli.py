"""The ``agentworker`` command, as a person or a script runs it."""

from __future__ import annotations

import json
import re
import subprocess
import sys

from tests.support.agents import add_agent
from tests.support.environment import without_services
from tests.support.stack import ROOT, Stack


def _agentworker(
    env: dict[str, str], *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from worker.cli import main; main()", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_submit_wait_status_and_events(stack: Stack) -> None:
    add_agent(stack.engine, "helper", tools=["current_time"])
    stack.start_worker()
    env = stack.worker_env()

    submitted = _agentworker(
        env,
        "submit",
        "--tenant",
        "acme",
        "--agent",
        "helper",
        "--input",
        "what time is it",
        "--wait",
    )
    assert submitted.returncode == 0, submitted.stderr
    task_id = submitted.stdout.split()[1]
    assert "TOOL_RESULT" in submitted.stdout and "RESULT" in submitted.stdout

    status = _agentworker(env, "status", task_id, "--tenant", "acme", "--json")
    assert status.returncode == 0, status.stderr
    assert json.loads(status.stdout)["status"] == "SUCCEEDED"

    events = _agentworker(env, "events", task_id, "--tenant", "acme", "--json")
    kinds = [json.loads(line)["event_type"] for line in events.stdout.splitlines()]
    assert kinds[0] == "AGENT_START" and kinds[-1] == "AGENT_COMPLETE"


def test_exit_codes_say_what_went_wrong(stack: Stack) -> None:
    add_agent(stack.engine, "helper")
    env = stack.worker_env()

    usage = _agentworker(env, "submit", "--tenant", "acme", "--agent", "helper")
    assert usage.returncode == 2
    assert "exactly one of --input or --json-input" in usage.stderr

    unknown = _agentworker(env, "submit", "--tenant", "acme", "--agent", "nobody", "--input", "x")
    assert unknown.returncode == 1
    assert "unknown agent 'nobody'" in unknown.stderr

    missing = _agentworker(env, "status", "not-a-task-id", "--tenant", "acme")
    assert missing.returncode == 1
    assert "is not a task id" in missing.stderr


def test_the_demo_runs_a_job_end_to_end_on_embedded_services(tmp_path: object) -> None:
    env = without_services()
    result = _agentworker(env, "demo", timeout=240)

    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "status    SUCCEEDED" in result.stdout
    assert "search_knowledge: success" in result.stdout
    assert "600 attendees" in result.stdout
    assert "Approve the venue shortlist" in result.stdout  # the approver's queue was shown
    assert re.search(r"http://127\.0\.0\.1:\d+/inbox/approvals/[0-9a-f-]{36}", result.stdout)
    assert "(sign in as adam.approver@acme.example, password " in result.stdout
    assert "approved: Approve the venue shortlist (by adam.approver@acme.example)" in result.stdout
    assert "the speaker scout's invitation email waits for approval" in result.stdout
    assert (
        "approved: Let agent 'speaker_scout' run tool 'send_email'? (by adam.approver@acme.example)"
        in result.stdout
    )
    assert "workflow completed" in result.stdout
    assert re.search(r"ai_recommendations\s+1", result.stdout)
    assert "APPROVAL_REQUESTED" in result.stdout and "APPROVAL_RESOLVED" in result.stdout
    assert "done." in result.stdout
