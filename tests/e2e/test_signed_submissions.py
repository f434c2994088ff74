"""Signed submissions through a real broker and worker: signed with the Python helper
(``worker.client.sign_kwargs``) and with the Node example (``examples/node``, celery-node), for
a tenant in ``signed`` mode; a tampered, an expired and a replayed one are refused and
audited."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from models import TaskStatus
from tests.support.agents import add_agent, ensure_tenant
from tests.support.stack import ROOT, Stack, wait_until
from worker.client import TaskView, sign_kwargs
from worker.security.api_keys import IssuedKey, issue_key
from worker.security.encryption import SecretBox, generate_key

NODE_EXAMPLE = ROOT / "examples" / "node"
ENCRYPTION_KEY = generate_key()
JOB = {"tenant": "acme", "agent": "helper", "input": "Plan a venue shortlist"}


@pytest.fixture
def signed_stack(stack: Stack) -> Stack:
    add_agent(stack.engine, "helper")
    ensure_tenant(stack.engine)
    with stack.engine.begin() as connection:
        connection.execute(sa.text("UPDATE tenants SET broker_auth = 'signed' WHERE slug = 'acme'"))
    stack.start_worker(AGENTWORKER_ENCRYPTION_KEYS=ENCRYPTION_KEY)
    return stack


def _key(stack: Stack, **options: Any) -> IssuedKey:
    with stack.engine.begin() as connection:
        return issue_key(
            connection,
            SecretBox([ENCRYPTION_KEY]),
            tenant_id=ensure_tenant(stack.engine),
            name="node-service",
            scopes=["submit"],
            **options,
        )


def _task_of(stack: Stack, message_id: str) -> TaskView:
    task_id = wait_until(
        lambda: next(
            iter(stack.rows("SELECT id FROM tasks WHERE broker_message_id = :m", m=message_id)),
            (None,),
        )[0],
        timeout=30,
        failure=lambda: (
            f"no task for message {message_id}:\n"
            + "\n".join(w.log()[-3000:] for w in stack.workers)
        ),
    )
    return stack.wait_for(task_id)


def _refusals(stack: Stack, message_id: str) -> list[sa.Row[Any]]:
    return stack.rows(
        "SELECT actor, changes FROM audit_logs WHERE action = 'submission.refused' "
        "AND resource_id = :m",
        m=message_id,
    )


# --- Python -------------------------------------------------------------------------------------


def test_a_submission_signed_with_the_python_helper_runs(signed_stack: Stack) -> None:
    key = _key(signed_stack)

    message = signed_stack.app.send_task(
        "agents.run_task", kwargs=sign_kwargs("agents.run_task", JOB, key.key)
    )

    assert _task_of(signed_stack, message.id).status == TaskStatus.SUCCEEDED


def test_tampered_expired_and_replayed_submissions_are_refused_and_audited(
    signed_stack: Stack,
) -> None:
    key = _key(signed_stack)
    expired = _key(signed_stack, expires_at=datetime.now(UTC) - timedelta(seconds=1))
    signed = sign_kwargs("agents.run_task", JOB, key.key)
    cases = {
        "tampered": ({**signed, "input": "Something else"}, "wrong signature"),
        "expired": (sign_kwargs("agents.run_task", JOB, expired.key), "expired at"),
        "unsigned": (dict(JOB), "accepts only signed submissions"),
    }
    first = signed_stack.app.send_task("agents.run_task", kwargs=signed)
    assert _task_of(signed_stack, first.id).status == TaskStatus.SUCCEEDED
    cases["replayed"] = (signed, "replayed submission")

    for case, (kwargs, reason) in cases.items():
        message = signed_stack.app.send_task("agents.run_task", kwargs=kwargs)
        task = _task_of(signed_stack, message.id)
        assert (task.status, task.error_code) == (TaskStatus.FAILED, "unauthenticated"), case
        assert reason in (task.error or ""), case
        (audit,) = _refusals(signed_stack, message.id)
        assert audit.changes["code"] == "unauthenticated", case
        assert task.attempts == 0, case  # refused at the door, never run


# --- Node (celery-node) -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def node_modules(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example's dependencies, installed with ``npm ci`` once per lock file, outside the
    repository (under ~/.cache), so no node_modules is ever in the work tree."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.fail("Node.js and npm are needed for the Node example (examples/node)")
    lock = (NODE_EXAMPLE / "package-lock.json").read_bytes()
    cache = Path.home() / ".cache" / "agentworker" / f"node-{hashlib.sha256(lock).hexdigest()[:16]}"
    if not (cache / "node_modules" / "celery-node").is_dir():
        staging = tmp_path_factory.mktemp("npm")
        for name in ("package.json", "package-lock.json"):
            shutil.copy(NODE_EXAMPLE / name, staging / name)
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts"],
            cwd=staging,
            check=True,
            capture_output=True,
            timeout=300,
        )
        cache.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(cache, ignore_errors=True)
        shutil.move(staging, cache)
    return cache / "node_modules"


def _node_submit(stack: Stack, node_modules: Path, key: str, *extra: str) -> str:
    result = subprocess.run(
        [
            "node",
            str(NODE_EXAMPLE / "submit.js"),
            "acme",
            "helper",
            "Plan a venue shortlist",
            *extra,
        ],
        env={
            "PATH": os.environ["PATH"],
            "NODE_PATH": str(node_modules),
            "CELERY_BROKER_URL": stack.broker_url,
            "AGENTWORKER_API_KEY": key,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    message_id = result.stdout.strip().splitlines()[-1]
    uuid.UUID(message_id)
    return message_id


def test_a_submission_signed_by_the_node_example_runs_and_a_tampered_one_is_refused(
    signed_stack: Stack, node_modules: Path
) -> None:
    key = _key(signed_stack)

    accepted = _task_of(signed_stack, _node_submit(signed_stack, node_modules, key.key))
    tampered_id = _node_submit(signed_stack, node_modules, key.key, "--tamper")
    tampered = _task_of(signed_stack, tampered_id)

    assert accepted.status == TaskStatus.SUCCEEDED
    assert (tampered.status, tampered.error_code) == (TaskStatus.FAILED, "unauthenticated")
    assert "wrong signature" in (tampered.error or "")
    assert len(_refusals(signed_stack, tampered_id)) == 1


def test_node_and_python_sign_the_same_kwargs_identically(node_modules: Path) -> None:
    kwargs = {
        "tenant": "acme",
        "agent": "helper",
        "input": "Salut, ça va ? 🎉",
        "metadata": {"b": [1, "x"], "a": None},
    }
    key = "awk_AbCdEfGh" + "k" * 40
    script = (
        "const { signKwargs } = require(process.argv[1]);"
        "const out = signKwargs('agents.run_task', JSON.parse(process.argv[2]), process.argv[3],"
        " { timestamp: 1700000000, nonce: 'n0nce-0123456789' });"
        "process.stdout.write(out.auth.signature);"
    )
    result = subprocess.run(
        ["node", "-e", script, str(NODE_EXAMPLE / "sign.js"), json.dumps(kwargs), key],
        env={"PATH": os.environ["PATH"], "NODE_PATH": str(node_modules)},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )

    python = sign_kwargs(
        "agents.run_task", kwargs, key, timestamp=1700000000, nonce="n0nce-0123456789"
    )
    assert result.stdout == python["auth"]["signature"]
