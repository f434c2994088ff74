"""Every read is scoped (issue 12, item 5): the client and the CLI take a tenant and never read
across tenants: tenant B's task or execution, asked for as tenant A, is "not found"."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest
import sqlalchemy as sa

from tests.support.agents import add_agent
from tests.support.publisher import RecordingPublisher
from tests.support.stack import ROOT
from tests.support.workflows import add_workflow
from worker.client import AgentWorkerClient, TaskNotFound, TenantRequired
from worker.core.database_roles import ensure_runtime_login
from worker.core.settings import Settings
from worker.workflows.cancellation import NothingToCancel


def _client(engine: sa.Engine, tenant: str | None) -> AgentWorkerClient:
    return AgentWorkerClient(engine, RecordingPublisher(), Settings(), tenant=tenant)


@pytest.fixture
def b_work(engine: sa.Engine) -> tuple[uuid.UUID, uuid.UUID]:
    """A task and a workflow execution of tenant 'globex' (tenant 'acme' exists too)."""
    add_agent(engine, "helper", tenant="acme")
    add_agent(engine, "helper", tenant="globex")
    add_workflow(
        engine, "review", [{"key": "draft", "kind": "agent", "agent": "helper"}], tenant="globex"
    )
    globex = _client(engine, "globex")
    task_id = globex.submit(agent="helper", input="B's private question")
    execution_id = globex.start_workflow(workflow="review", input={"brief": "B's"})
    return task_id, execution_id


def test_another_tenants_task_and_execution_are_not_found(
    engine: sa.Engine, b_work: tuple[uuid.UUID, uuid.UUID]
) -> None:
    task_id, execution_id = b_work
    acme, globex = _client(engine, "acme"), _client(engine, "globex")

    with pytest.raises(TaskNotFound, match=f"no task {task_id} for tenant 'acme'"):
        acme.get_task(task_id)
    with pytest.raises(TaskNotFound, match="no workflow execution"):
        acme.get_execution(execution_id)
    assert acme.events(task_id) == [] and acme.events(execution_id) == []
    with pytest.raises(NothingToCancel, match="for tenant 'acme'"):
        acme.cancel(task_id)
    with pytest.raises(NothingToCancel):
        acme.cancel(execution_id)

    assert globex.get_task(task_id).title == "B's private question"
    assert globex.get_execution(execution_id).workflow == "review"
    assert globex.events(execution_id), "the owner reads its execution's events"
    assert acme.get_task(task_id, tenant="globex").id == task_id  # a call may name its tenant
    assert globex.cancel(task_id).changed


def test_a_read_without_a_tenant_is_refused(
    engine: sa.Engine, b_work: tuple[uuid.UUID, uuid.UUID]
) -> None:
    anyone = _client(engine, None)
    with pytest.raises(TenantRequired, match="say whose data to read"):
        anyone.get_task(b_work[0])
    with pytest.raises(TenantRequired):
        anyone.events(b_work[0])


def _cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from worker.cli import main; main()", *args],
        cwd=ROOT,
        # As an operator's shell would: logged in as the runtime role (row-level security).
        env={**os.environ, "DATABASE_URL": ensure_runtime_login(database_url)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_cli_reads_only_the_named_tenants_work(
    database_url: str, b_work: tuple[uuid.UUID, uuid.UUID]
) -> None:
    task_id, execution_id = b_work

    as_acme = _cli(database_url, "status", str(task_id), "--tenant", "acme")
    events_as_acme = _cli(database_url, "events", str(task_id), "--tenant", "acme")
    execution_as_acme = _cli(
        database_url, "workflows", "status", str(execution_id), "--tenant", "acme"
    )
    as_globex = _cli(database_url, "status", str(task_id), "--tenant", "globex")

    assert as_acme.returncode == 1 and f"no task {task_id} for tenant 'acme'" in as_acme.stderr
    assert events_as_acme.returncode == 0 and events_as_acme.stdout == ""
    assert execution_as_acme.returncode == 1, execution_as_acme.stdout
    assert "no workflow execution" in execution_as_acme.stderr
    assert as_globex.returncode == 0, as_globex.stderr
    assert str(task_id) in as_globex.stdout

    cancel_as_acme = _cli(database_url, "cancel", str(task_id), "--tenant", "acme")
    assert cancel_as_acme.returncode == 1 and "for tenant 'acme'" in cancel_as_acme.stderr
    cancel_as_globex = _cli(database_url, "cancel", str(task_id), "--tenant", "globex")
    assert cancel_as_globex.returncode == 0, cancel_as_globex.stderr
    assert f"task {task_id} cancelled" in cancel_as_globex.stdout
