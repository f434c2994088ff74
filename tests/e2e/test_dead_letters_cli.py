"""``agentworker dead-letters list | redrive``: an operator sees the messages no handler could
take (ai_error_logs rows of type ``message.*``) and sends one again once its cause is fixed.

Everything is real: the dead letters are made by a real worker from raw ``send_task``
messages, the CLI runs as a process against the test's database and broker, and the re-driven
message is consumed by that worker.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from typing import Any

from tests.support.agents import add_agent
from tests.support.stack import ROOT, Stack, wait_until

BRIEF = {"tenant": "acme", "name": "event brief", "text": "AgentConf 2027 runs in Lisbon."}


def _agentworker(stack: Stack, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from worker.cli import main; main()", *args],
        cwd=ROOT,
        env=stack.worker_env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _set_active(stack: Stack, active: bool) -> None:
    with stack.engine.begin() as connection:
        connection.exec_driver_sql(
            "UPDATE tenants SET is_active = %(active)s WHERE slug = 'acme'", {"active": active}
        )


def _dead_letter(stack: Stack, message_id: str) -> uuid.UUID:
    def find() -> uuid.UUID | None:
        rows = stack.rows(
            "SELECT id FROM ai_error_logs WHERE error_type LIKE 'message.%' "
            "AND error_context->>'broker_message_id' = :m",
            m=message_id,
        )
        return rows[0].id if rows else None

    return wait_until(
        find,
        timeout=30,
        failure=lambda: f"no dead letter for {message_id}:\n" + stack.workers[0].log()[-3000:],
    )


def _one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Traceback" not in output, output
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: "), output
    return line


def test_a_dead_letter_is_listed_and_re_driven_once_its_cause_is_fixed(stack: Stack) -> None:
    add_agent(stack.engine, "helper")
    stack.start_worker()
    _set_active(stack, False)
    message = stack.app.send_task("knowledge.ingest", kwargs=BRIEF, queue="agents")
    letter = _dead_letter(stack, message.id)

    listed = _agentworker(stack, "dead-letters", "list")
    assert listed.returncode == 0, listed.stdout + listed.stderr
    (line,) = [line for line in listed.stdout.splitlines() if str(letter) in line]
    assert "knowledge.ingest" in line and message.id in line and "deactivated" in line
    assert listed.stderr == ""
    (entry,) = json.loads(_agentworker(stack, "dead-letters", "list", "--json").stdout)
    assert entry["task"] == "knowledge.ingest" and entry["broker_message_id"] == message.id
    assert entry["kind"] == "failed" and entry["refusal"] is None and entry["redriven"] is None

    _set_active(stack, True)
    redriven = _agentworker(stack, "dead-letters", "redrive", str(letter))
    assert redriven.returncode == 0, redriven.stdout + redriven.stderr
    assert f"re-driven: knowledge.ingest published again as message {message.id}" in (
        redriven.stdout
    )
    wait_until(
        lambda: (
            stack.rows(
                "SELECT 1 FROM knowledge_sources WHERE name = 'event brief' AND status = 'ready'"
            )
            or None
        ),
        timeout=60,
        failure=lambda: "the re-driven ingest did not land:\n" + stack.workers[0].log()[-3000:],
    )
    (row,) = stack.rows(
        "SELECT is_resolved, error_context->'redriven'->>'message_id' AS sent "
        "FROM ai_error_logs WHERE id = :i",
        i=letter,
    )
    assert row.is_resolved and row.sent == message.id

    again = _one_error_line(_agentworker(stack, "dead-letters", "redrive", str(letter)))
    assert f"dead letter {letter} was re-driven at" in again and "not sent twice" in again
    relisted = json.loads(_agentworker(stack, "dead-letters", "list", "--json").stdout)
    assert [e["redriven"]["message_id"] for e in relisted] == [message.id]


def test_what_cannot_be_sent_as_it_arrived_is_refused_and_left_as_it_is(stack: Stack) -> None:
    add_agent(stack.engine, "helper")
    stack.start_worker()
    _set_active(stack, False)
    sent: dict[str, Any] = {
        "redacted": stack.app.send_task(
            "knowledge.ingest", kwargs={**BRIEF, "text": "key sk-" + "a" * 40}, queue="agents"
        ),
        "positional": stack.app.send_task(
            "agents.run_task", args=["acme", "helper", "hi"], queue="agents"
        ),
        "unknown": stack.app.send_task("agents.no_such_task", kwargs=BRIEF, queue="agents"),
    }
    letters = {name: _dead_letter(stack, message.id) for name, message in sent.items()}
    _set_active(stack, True)

    reasons = {
        name: _one_error_line(_agentworker(stack, "dead-letters", "redrive", str(letter)))
        for name, letter in letters.items()
    }
    assert "its body was changed to be stored" in reasons["redacted"]
    assert "not a keyword call" in reasons["positional"]
    assert "no task named 'agents.no_such_task' is consumed here" in reasons["unknown"]
    assert stack.rows("SELECT 1 FROM ai_error_logs WHERE is_resolved") == []
    assert stack.rows("SELECT 1 FROM knowledge_sources") == []

    limited = _agentworker(stack, "dead-letters", "list", "--limit", "2")
    assert limited.returncode == 0, limited.stdout + limited.stderr
    newest = [row.id for row in stack.rows("SELECT id FROM ai_error_logs ORDER BY created_at DESC")]
    shown = [uuid.UUID(line.split()[0]) for line in limited.stdout.splitlines()[2:]]
    assert shown == newest[:2]
    assert limited.stderr.strip() == (
        "showing the newest 2 of 3 dead letters: raise --limit to see more"
    )
    missing = _one_error_line(_agentworker(stack, "dead-letters", "redrive", str(uuid.uuid4())))
    assert "no dead letter with id" in missing and "agentworker dead-letters list" in missing
