"""``agentworker approvals``: ``list`` is per tenant and tells an approver when more wait than
are shown; ``show`` shows a tool call's arguments and digest, the votes and the quorum;
``approve`` / ``reject`` are recorded as the CLI and the OS user, bound to the digest shown."""

from __future__ import annotations

import getpass
import json
import os
import subprocess
import sys

import sqlalchemy as sa

from models import ApprovalStatus
from tests.support.rows import RowFactory
from tests.support.stack import ROOT
from worker.approvals import tool_call_digest
from worker.core.database_roles import ensure_runtime_login


def _list(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return _cli(database_url, "list", *args)


def _cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from worker.cli import main; main()", "approvals", *args],
        cwd=ROOT,
        # As an operator's shell would: logged in as the runtime role (row-level security).
        env={**os.environ, "DATABASE_URL": ensure_runtime_login(database_url)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_list_says_when_the_limit_hides_more(database_url: str, engine: sa.Engine) -> None:
    with engine.begin() as connection:
        rows = RowFactory(connection)
        ids = [
            str(rows.insert("approvals", status=ApprovalStatus.PENDING, title=f"ask {n}"))
            for n in range(3)
        ]

    tenant = str(rows.tenant_id)
    cut = _list(database_url, "--tenant", tenant, "--limit", "2")
    whole = _list(database_url, "--tenant", tenant, "--limit", "3")

    assert cut.returncode == 0, cut.stderr
    assert sum(approval_id in cut.stdout for approval_id in ids) == 2
    assert "showing the oldest 2; more are waiting" in cut.stderr
    assert whole.returncode == 0, whole.stderr
    assert all(approval_id in whole.stdout for approval_id in ids)
    assert "more are waiting" not in whole.stderr


def test_list_never_reads_across_tenants(database_url: str, engine: sa.Engine) -> None:
    with engine.begin() as connection:
        ours, theirs = RowFactory(connection), RowFactory(connection)
        mine = str(ours.insert("approvals", title="ours"))
        other = str(theirs.insert("approvals", title="theirs"))

    unscoped = _list(database_url)
    scoped = _list(database_url, "--tenant", str(ours.tenant_id))

    assert unscoped.returncode == 2 and "--tenant" in unscoped.stderr
    assert mine in scoped.stdout and other not in scoped.stdout


ASKED = {"to": "ops@acme.test", "body": "booked"}
SCHEMA = {
    "type": "object",
    "properties": {"to": {"type": "string"}, "body": {"type": "string"}},
    "required": ["to", "body"],
    "additionalProperties": False,
}


def _tool_approval(engine: sa.Engine, **overrides: object) -> tuple[str, str]:
    """A pending tool approval asking to run send_notice(ASKED), and an approver's email."""
    with engine.begin() as connection:
        rows = RowFactory(connection)
        approval_id = rows.insert(
            "approvals",
            kind="tool_call",
            title="Let agent 'notifier' run tool 'send_notice'?",
            payload={"tool": "send_notice", "arguments": ASKED},
            digest=tool_call_digest("send_notice", ASKED),
            arguments_schema=SCHEMA,
            **overrides,
        )
        email = f"ada-{approval_id.hex[:8]}@acme.test"
        user_id = rows.insert("users", email=email)
        rows.insert("tenant_memberships", user_id=user_id, role="approver")
    return str(approval_id), email


def test_show_shows_the_arguments_the_digest_the_votes_and_the_quorum(
    database_url: str, engine: sa.Engine
) -> None:
    approval_id, email = _tool_approval(engine, quorum=2)
    assert _cli(database_url, "approve", approval_id, "--user", email).returncode == 0

    shown = _cli(database_url, "show", approval_id)

    assert shown.returncode == 0, shown.stderr
    assert tool_call_digest("send_notice", ASKED) in shown.stdout
    assert '"to": "ops@acme.test"' in shown.stdout
    assert "quorum    2 approver(s)" in shown.stdout
    assert f"approve by {email} (cli, os user {getpass.getuser()})" in shown.stdout
    assert "1/2 approve" in shown.stdout


def test_approve_is_recorded_as_the_cli_and_the_os_user_beside_the_approver(
    database_url: str, engine: sa.Engine
) -> None:
    approval_id, email = _tool_approval(engine)

    approved = _cli(database_url, "approve", approval_id, "--user", email)

    assert approved.returncode == 0, approved.stderr
    assert tool_call_digest("send_notice", ASKED) in approved.stdout  # what it was bound to
    with engine.connect() as connection:
        vote = connection.execute(
            sa.text("SELECT approver, principal_kind, os_user, digest FROM approval_decisions")
        ).one()
    assert tuple(vote) == (email, "cli", getpass.getuser(), tool_call_digest("send_notice", ASKED))


def test_approve_with_edited_arguments_approves_the_edited_call(
    database_url: str, engine: sa.Engine
) -> None:
    approval_id, email = _tool_approval(engine)
    edited = {"to": "lead@acme.test", "body": "booked"}

    approved = _cli(
        database_url, "approve", approval_id, "--user", email, "--arguments", json.dumps(edited)
    )

    assert approved.returncode == 0, approved.stderr
    with engine.connect() as connection:
        row = connection.execute(
            sa.text("SELECT status, approved_digest, approved_arguments FROM approvals")
        ).one()
    assert tuple(row) == ("approved", tool_call_digest("send_notice", edited), edited)


def test_a_stale_digest_or_invalid_arguments_fail_with_what_to_do(
    database_url: str, engine: sa.Engine
) -> None:
    approval_id, email = _tool_approval(engine)

    stale = _cli(database_url, "approve", approval_id, "--user", email, "--digest", "0" * 64)
    invalid = _cli(
        database_url, "approve", approval_id, "--user", email, "--arguments", '{"to": 5}'
    )

    assert stale.returncode == 1 and "the request changed since you saw it" in stale.stderr
    assert invalid.returncode == 1 and "schema" in invalid.stderr
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT status FROM approvals")).scalar() == "pending"
