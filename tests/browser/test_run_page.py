"""The run page of a finished crew execution shows one bar per step, in a real browser.

A real worker stack runs the Conference Planning Crew (the local LLM server, worker
processes); the API app serves the pages (the conftest's ``serve``), and Chromium (its
``new_page``) signs in as a plain member of the tenant and opens the execution's run page while
the crew waits for its approval. The approval is given; the page follows the run live, without
a reload, to its end, with one bar per step; then the page of one step's task shows that
task's own LLM and tool calls.

Screenshots (the viewport: the bars and the first events) go to the test's tmp directory, and
to docs/run-page.png and docs/run-page-task.png with ``AGENTWORKER_SCREENSHOTS=1``.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from models import ExecutionStatus
from models.db import create_sync_engine, sync_session_factory
from tests.support.stack import ROOT, Stack, stack_context, wait_until
from worker.api.app import create_api
from worker.core.settings import Settings
from worker.dev.seed import DEMO_MODEL, seed_demo
from worker.durable.publishing import CeleryPublisher
from worker.security.users import set_password

MEMBER = "mia.member@acme.example"
APPROVER = "adam.approver@acme.example"
PASSWORD = "a browser test's passphrase"
CREW_STEPS = {
    "research_venues",
    "approve_shortlist",
    "find_people",
    "find_speakers",
    "find_sponsors",
    "price_plan",
}
DOCS = ROOT / "docs"


@pytest.fixture
def stack(database_url: str, broker_url: str, tmp_path: Path) -> Iterator[Stack]:
    yield from stack_context(database_url, broker_url, tmp_path)


def _viewport_screenshot(page: Any, tmp_path: Path, name: str) -> None:
    """What a person sees first; the full page would be mostly the events."""
    path = tmp_path / name
    page.screenshot(path=str(path))
    if os.environ.get("AGENTWORKER_SCREENSHOTS") == "1":
        DOCS.mkdir(exist_ok=True)
        shutil.copyfile(path, DOCS / name)


def _crew_at_its_approval(stack: Stack) -> tuple[uuid.UUID, uuid.UUID]:
    """The crew started and waiting on its approval: (execution, approval)."""
    # Prices for the demo agents' model, so the page has costs to show.
    stack.start_worker(
        AGENTWORKER_PRICE_TABLE=json.dumps({DEMO_MODEL: {"input": 0.15, "output": 0.6}})
    )
    event_id = str(stack.rows("SELECT id FROM events")[0].id)
    execution_id = stack.client.start_workflow(
        tenant="acme",
        workflow="conference_planning_crew",
        input={"brief": "600 people in Lisbon", "event_id": event_id},
    )
    wait_until(
        lambda: _status(stack, execution_id) == ExecutionStatus.AWAITING_APPROVAL or None,
        timeout=60,
        failure=lambda: f"execution is {_status(stack, execution_id)}",
    )
    (approval,) = [a for a in stack.client.approvals() if a.workflow_execution_id == execution_id]
    return execution_id, approval.id


def _status(stack: Stack, execution_id: uuid.UUID) -> ExecutionStatus:
    return ExecutionStatus(stack.client.get_execution(execution_id).status)


def _labels(bars: Any) -> list[str]:
    return [b.locator(".label").inner_text() for b in bars.all()]


@pytest.mark.slow
def test_the_run_page_of_a_finished_crew_execution_shows_one_bar_per_step(
    stack: Stack,
    new_page: Callable[..., Any],
    serve: Callable[[Any], str],
    tmp_path: Path,
) -> None:
    """Opened while the crew waits for its approval, the page follows it live, without a
    reload, to its end: one bar per step."""
    from playwright.sync_api import expect  # installed: the browser fixture checked

    with sync_session_factory(stack.engine)() as session:
        seed_demo(session)
    with stack.engine.begin() as connection:
        set_password(connection, MEMBER, PASSWORD)
    execution_id, approval_id = _crew_at_its_approval(stack)
    engine = create_sync_engine(stack.runtime_database_url)
    settings = Settings(database_url=stack.runtime_database_url, session_secret="run pages")
    try:
        base = serve(create_api(settings, engine, CeleryPublisher(stack.app)))
        page = new_page()
        page.goto(f"{base}/runs/executions/{execution_id}")
        assert page.url.startswith(f"{base}/inbox/sign-in")  # signed out: sign in first
        page.get_by_label("Email").fill(MEMBER)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_label("Password").press("Enter")
        page.wait_for_url(f"{base}/runs/executions/{execution_id}")

        bars = page.locator('[data-testid="bar"]')
        assert _labels(bars) == ["research_venues", "approve_shortlist"]
        status = page.get_by_test_id("run-status")
        assert status.inner_text() == "awaiting_approval"
        page.evaluate("window.notReloaded = true")

        stack.client.resolve_approval(approval_id, "approve", user=APPROVER, comment="go")
        # The speaker scout's invitation email waits for a person too (a tool approval).
        invitation = wait_until(
            lambda: next(
                (a for a in stack.client.approvals(tenant="acme") if a.kind.value == "tool_call"),
                None,
            ),
            timeout=40,
            failure=lambda: "the speaker scout's invitation email was never asked for",
        )
        stack.client.resolve_approval(invitation.id, "approve", user=APPROVER, comment="send")
        expect(status).to_have_text("completed", timeout=60_000)

        assert page.evaluate("window.notReloaded") is True  # redrawn in place
        assert _status(stack, execution_id) == ExecutionStatus.COMPLETED
        with stack.engine.connect() as connection:
            step_runs = connection.execute(
                sa.text("SELECT step_key FROM ai_workflow_step_runs WHERE execution_id = :e"),
                {"e": execution_id},
            ).scalars()
            assert set(step_runs) == CREW_STEPS
        assert bars.count() == len(CREW_STEPS)
        assert {b.get_attribute("data-kind") for b in bars.all()} == {"step"}
        assert set(_labels(bars)) == CREW_STEPS
        branches = page.locator('[data-testid="bar"] .name.branch .label').all_inner_texts()
        assert sorted(branches) == ["find_speakers", "find_sponsors"]  # of find_people
        assert page.get_by_test_id("run-cost").inner_text() != "$0.000000"
        for bar in bars.all():  # every bar drawn: a visible rectangle on the axis
            box = bar.locator("svg rect").nth(1).bounding_box()
            assert box is not None and box["width"] > 0
        page.reload()  # the page as served, not only as redrawn
        assert set(_labels(bars)) == CREW_STEPS
        _viewport_screenshot(page, tmp_path, "run-page.png")

        page.get_by_role("link", name="research_venues").click()
        page.wait_for_url(f"{base}/runs/tasks/*")
        kinds = [b.get_attribute("data-kind") for b in bars.all()]
        assert kinds[0] == "llm" and "tool" in kinds  # the step's own calls
        _viewport_screenshot(page, tmp_path, "run-page-task.png")
    finally:
        engine.dispose()
