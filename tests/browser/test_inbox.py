"""The approvers' inbox in a real browser (issue 13, "In a real browser"): an approver signs
in, sees the crew's pending approvals, opens a tool call's, edits its arguments and approves,
and the run continues with the edited arguments; a second approver's open page says who
decided, without a reload; a member without the role sees nothing to approve; a form posted
without its CSRF token is refused.

One real worker stack (worker processes, the local LLM server) serves the first test; the
second needs only the database and the API.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from models import ExecutionStatus, TaskStatus
from models.db import create_sync_engine, sync_session_factory
from tests.support.agents import add_agent
from tests.support.inbox import PASSWORD, add_person, pending_tool_approval
from tests.support.publisher import RecordingPublisher
from tests.support.stack import Stack, stack_context, wait_until
from worker.api.app import create_api
from worker.core.settings import Settings
from worker.dev.seed import DEMO_APPROVER_EMAIL, seed_demo
from worker.durable.publishing import CeleryPublisher
from worker.security.users import set_password

OWNER = "olivia.owner@acme.example"
MEMBER = "mia.member@acme.example"
ASKED = {"to": "ops@acme.test", "subject": "Venue shortlist", "body": "Three venues in Lisbon."}
EDITED = {"to": "events@acme.test", "subject": "Venue shortlist", "body": "Book the first one."}


@pytest.fixture
def stack(database_url: str, broker_url: str, tmp_path: Path) -> Iterator[Stack]:
    yield from stack_context(database_url, broker_url, tmp_path)


def _inbox(runtime_database_url: str, publisher: Any) -> tuple[Any, sa.Engine]:
    engine = create_sync_engine(runtime_database_url)
    settings = Settings(database_url=runtime_database_url, session_secret="browser tests")
    return create_api(settings, engine, publisher), engine


def _sign_in(page: Any, base: str, email: str, *, next_path: str = "/inbox") -> None:
    """By keyboard only: type the email, Tab to the password, Enter to send."""
    page.goto(f"{base}{next_path}")
    assert page.url.startswith(f"{base}/inbox/sign-in")
    page.get_by_label("Email").focus()
    page.keyboard.type(email)
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{base}{next_path}")
    assert email in page.get_by_test_id("signed-in-user").inner_text()


def _row(page: Any, title: str) -> Any:
    return page.locator("[data-testid=inbox-list] tbody tr").filter(has_text=title)


@pytest.mark.slow
def test_an_approver_edits_a_tool_call_and_approves_and_the_run_continues_with_the_edit(
    stack: Stack,
    runtime_database_url: str,
    new_page: Callable[..., Any],
    serve: Callable[[Any], str],
    screenshot: Callable[[Any, str], Path],
) -> None:
    with sync_session_factory(stack.engine)() as session:
        seed_demo(session)
    with stack.engine.begin() as connection:
        for email in (DEMO_APPROVER_EMAIL, OWNER, MEMBER):
            set_password(connection, email, PASSWORD)
    model = add_agent(stack.engine, "mailer", tools=["send_email"])
    stack.llm_admin("POST", "/_tool_arguments", {"model": model, "arguments": ASKED})
    stack.start_worker()
    event_id = str(stack.rows("SELECT id FROM events")[0].id)
    execution_id = stack.client.start_workflow(
        workflow="conference_planning_crew",
        input={"brief": "600 people in Lisbon", "event_id": event_id},
    )
    task_id = stack.client.submit(agent="mailer", input="Email ops the venue shortlist")
    stack.wait_for(task_id, statuses={TaskStatus.AWAITING_APPROVAL}, timeout=40)
    wait_until(
        lambda: (
            stack.rows("SELECT 1 FROM approvals WHERE workflow_execution_id = :e", e=execution_id)
            or None
        ),
        timeout=40,
        failure=lambda: (
            "the crew never asked for its approval:\n"
            + "\n".join(w.log()[-3000:] for w in stack.workers)
        ),
    )
    app, engine = _inbox(runtime_database_url, CeleryPublisher(stack.app))
    try:
        base = serve(app)
        adam, olivia = new_page(), new_page()

        # An approver signs in and sees the crew's pending approvals, oldest first.
        _sign_in(adam, base, DEMO_APPROVER_EMAIL)
        assert _row(adam, "Approve the venue shortlist").count() == 1
        tool_row = _row(adam, "run tool 'send_email'")
        assert tool_row.count() == 1
        titles = adam.locator(
            "[data-testid=inbox-list] tbody tr td:first-child a"
        ).all_inner_texts()
        oldest_first = stack.rows("SELECT title FROM approvals ORDER BY created_at")
        assert titles == [row.title for row in oldest_first]
        screenshot(adam, "inbox-list.png")

        # A second approver has the tool call's page open meanwhile.
        tool_row.get_by_role("link").click()
        adam.wait_for_url(re.compile(r".*/inbox/approvals/[0-9a-f-]+$"))
        approval_path = adam.url.removeprefix(base)
        _sign_in(olivia, base, OWNER, next_path=approval_path)
        assert olivia.get_by_test_id("decided").count() == 0

        # The approver reads what is asked and what each decision does, then edits and approves.
        assert json.loads(adam.get_by_test_id("tool-arguments").inner_text()) == ASKED
        assert "does not run" in adam.get_by_test_id("outcome-reject").inner_text()
        assert (
            adam.get_by_role("link", name="Open the task's run page").get_attribute("href")
            == f"/runs/tasks/{task_id}"
        )
        screenshot(adam, "inbox-approval.png")
        arguments = adam.get_by_label("Arguments of send_email (JSON)")
        arguments.fill('{"to": "events@acme.test"}')  # the schema wants subject and body too
        adam.get_by_role("button", name="Approve with these arguments").click()
        error = adam.get_by_test_id("decision-error")
        assert "schema" in error.inner_text()
        adam.get_by_label("Arguments of send_email (JSON)").fill(json.dumps(EDITED, indent=2))
        adam.get_by_label("Comment (optional)").nth(1).fill("send it to events instead")
        adam.get_by_role("button", name="Approve with these arguments").click()
        adam.wait_for_url(f"{base}{approval_path}")
        assert f"approved by {DEMO_APPROVER_EMAIL}" in adam.get_by_test_id("decided").inner_text()
        history = adam.get_by_test_id("history").inner_text()
        assert "send it to events instead" in history and "with edited arguments" in history

        # The second approver's open page says who decided, live, without a reload.
        decided = olivia.get_by_test_id("decided")
        decided.wait_for(timeout=10_000)
        assert re.search(
            rf"already approved by {re.escape(DEMO_APPROVER_EMAIL)} at \d{{4}}-\d\d-\d\d ",
            decided.inner_text(),
        )
        assert olivia.get_by_role("button", name="Approve", exact=True).is_disabled()

        # The run continues, and the tool ran with the edited arguments.
        done = stack.wait_for(task_id, timeout=40)
        assert done.status == TaskStatus.SUCCEEDED, done.error
        (action,) = stack.rows(
            "SELECT request_payload FROM action_logs WHERE task_id = :t AND tool_name = "
            "'send_email'",
            t=task_id,
        )
        assert EDITED.items() <= _arguments(action.request_payload).items()
        assert "ops@acme.test" not in json.dumps(action.request_payload)

        # The crew's own approval, by keyboard: Tab to Approve, Enter.
        adam.goto(f"{base}/inbox")
        _row(adam, "Approve the venue shortlist").get_by_role("link").click()
        assert adam.get_by_test_id("show").inner_text().strip()  # the researcher's shortlist
        adam.get_by_label("Comment (optional)").first.focus()
        adam.keyboard.type("go")
        adam.keyboard.press("Tab")
        assert adam.evaluate("document.activeElement.textContent") == "Approve"
        adam.keyboard.press("Enter")
        adam.get_by_test_id("decided").wait_for()
        wait_until(
            lambda: (
                v
                if (v := stack.client.get_execution(execution_id)).status
                not in (ExecutionStatus.AWAITING_APPROVAL, ExecutionStatus.PENDING)
                else None
            ),
            timeout=30,
            failure=lambda: f"the crew did not move on: {stack.client.get_execution(execution_id)}",
        )
        adam.goto(f"{base}/inbox")  # decided: gone from the list (the crew may ask again later)
        assert _row(adam, "Approve the venue shortlist").count() == 0
    finally:
        engine.dispose()


def _arguments(payload: Any) -> dict[str, Any]:
    """The arguments an action log recorded (under ``arguments``, possibly as JSON text)."""
    value = payload.get("arguments", payload) if isinstance(payload, dict) else payload
    if isinstance(value, str):
        value = json.loads(value)
    assert isinstance(value, dict), payload
    return value


def test_a_member_without_the_role_sees_nothing_and_a_form_without_its_token_is_refused(
    engine: sa.Engine,
    runtime_database_url: str,
    new_page: Callable[..., Any],
    serve: Callable[[Any], str],
) -> None:
    add_person(engine, "acme", "ada@acme.test", "approver")
    add_person(engine, "acme", "mia@acme.test", "member")
    approval_id = pending_tool_approval(engine)
    app, runtime = _inbox(runtime_database_url, RecordingPublisher())
    try:
        base = serve(app)
        mia, ada = new_page(), new_page()

        _sign_in(mia, base, "mia@acme.test")
        assert mia.get_by_test_id("inbox-empty").is_visible()
        assert mia.locator("[data-testid=inbox-list]").count() == 0
        mia.goto(f"{base}/inbox/approvals/{approval_id}")
        assert mia.get_by_test_id("cannot-decide").is_visible()
        assert mia.get_by_role("button", name="Approve").count() == 0

        _sign_in(ada, base, "ada@acme.test")
        assert _row(ada, "send_email").count() == 1
        ada.goto(f"{base}/inbox/approvals/{approval_id}")
        # A form that lost its token (as a form another site made would lack it) is refused.
        ada.evaluate("document.querySelectorAll('input[name=csrf_token]').forEach(e => e.remove())")
        with ada.expect_response(f"{base}/inbox/approvals/{approval_id}/decision") as answer:
            ada.get_by_role("button", name="Approve", exact=True).click()
        assert answer.value.status == 403
        assert "security token" in ada.get_by_test_id("csrf-refused").inner_text()
        with engine.connect() as connection:
            status = connection.execute(
                sa.text("SELECT status FROM approvals WHERE id = :i"), {"i": approval_id}
            ).scalar_one()
        assert status == "pending"
    finally:
        runtime.dispose()
