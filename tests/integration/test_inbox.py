"""The approvers' inbox over HTTP (``worker.inbox``), on the real PostgreSQL through the
runtime role that row-level security confines: sign-in and its limits, the session cookie's
flags, CSRF refusals, what each person sees, and decisions taken through the pages."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from models import MembershipRole
from tests.support.inbox import PASSWORD, add_person, pending_tool_approval
from tests.support.people import add_member
from tests.support.publisher import RecordingPublisher
from worker.api.app import create_api
from worker.core.settings import Settings
from worker.inbox.rate_limit import SignInLimiter
from worker.inbox.sessions import COOKIE, SESSION_SECONDS, SignedIn, encode

ADA, BOB, MIA = "ada@acme.test", "bob@acme.test", "mia@acme.test"
GUS = "gus@globex.test"
SECRET = "a test session secret that is long enough"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _app(runtime_engine: sa.Engine, publisher: RecordingPublisher, **settings: Any) -> Any:
    return create_api(Settings(session_secret=SECRET, **settings), runtime_engine, publisher)


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(runtime_engine: sa.Engine, publisher: RecordingPublisher, clock: Clock) -> Any:
    app = _app(runtime_engine, publisher)
    app.state.sign_in_limiter = SignInLimiter(limit=5, window_seconds=60, clock=clock)
    return app


@pytest.fixture
def people(engine: sa.Engine) -> None:
    add_person(engine, "acme", ADA, "approver")
    add_person(engine, "acme", BOB, "admin")
    add_person(engine, "acme", MIA, "member")
    add_person(engine, "globex", GUS, "owner")


def _client(app: Any) -> TestClient:
    return TestClient(app, base_url="http://127.0.0.1:8000")


@pytest.fixture
def browser(app: Any) -> Iterator[TestClient]:
    with _client(app) as client:
        yield client


def _token(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([0-9a-f]+)"', html)
    assert found, "the page carries no CSRF token"
    return found.group(1)


def _sign_in(client: TestClient, email: str, password: str = PASSWORD, **extra: str) -> Any:
    token = _token(client.get("/inbox/sign-in").text)
    return client.post(
        "/inbox/sign-in",
        data={"email": email, "password": password, "csrf_token": token, **extra},
        follow_redirects=False,
    )


def _signed_in(app: Any, email: str) -> TestClient:
    client = _client(app)
    response = _sign_in(client, email)
    assert response.status_code == 303, response.text
    return client


def _set_cookie(response: Any, name: str) -> str:
    headers = [h for h in response.headers.get_list("set-cookie") if h.startswith(f"{name}=")]
    assert len(headers) == 1, response.headers.get_list("set-cookie")
    return headers[0]


def _pending(engine: sa.Engine, approval_id: uuid.UUID) -> str:
    with engine.connect() as connection:
        return str(
            connection.execute(
                sa.text("SELECT status FROM approvals WHERE id = :i"), {"i": approval_id}
            ).scalar_one()
        )


# --- signing in ------------------------------------------------------------------------------


def test_a_page_of_the_inbox_sends_a_browser_without_a_session_to_sign_in(
    browser: TestClient,
) -> None:
    response = browser.get(
        "/inbox/approvals/00000000-0000-0000-0000-000000000001?x=1", follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"] == (
        "/inbox/sign-in?next=/inbox/approvals/00000000-0000-0000-0000-000000000001%3Fx%3D1"
    )
    status = browser.get(
        "/inbox/approvals/00000000-0000-0000-0000-000000000001/status.json",
        headers={"Accept": "application/json"},
    )
    assert status.status_code == 401
    assert "sign in again" in status.json()["detail"]


def test_signing_in_sets_a_signed_http_only_same_site_cookie_and_goes_where_it_was_asked(
    browser: TestClient, people: None
) -> None:
    response = _sign_in(browser, ADA, next="/inbox/approvals/x")
    assert response.status_code == 303
    assert response.headers["location"] == "/inbox/approvals/x"
    cookie = _set_cookie(response, COOKIE).lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
    assert "secure" not in cookie  # the public URL is http
    page = browser.get("/inbox")
    assert page.status_code == 200
    assert ADA in page.text
    assert page.headers["x-frame-options"] == "DENY"  # an Approve button is never framed
    assert page.headers["cache-control"] == "no-store"


def test_the_session_cookie_is_secure_when_the_public_url_is_https(
    runtime_engine: sa.Engine, publisher: RecordingPublisher, people: None
) -> None:
    app = _app(runtime_engine, publisher, public_url="https://inbox.acme.test")
    with TestClient(app, base_url="https://inbox.acme.test") as client:
        response = _sign_in(client, ADA)
    assert response.status_code == 303
    assert "; secure" in _set_cookie(response, COOKIE).lower()


def test_a_forged_or_tampered_session_cookie_is_not_a_session(app: Any, people: None) -> None:
    client = _signed_in(app, ADA)
    value = client.cookies[COOKIE]
    body, _, signature = value.partition(".")
    for forged in (f"{body}.{'0' * len(signature)}", f"{body[:-2]}xx.{signature}", "garbage"):
        client.cookies.clear()
        client.cookies.set(COOKIE, forged)
        assert client.get("/inbox", follow_redirects=False).status_code == 303


def test_a_session_signed_with_another_secret_is_not_honoured(
    runtime_engine: sa.Engine, publisher: RecordingPublisher, app: Any, people: None
) -> None:
    value = _signed_in(app, ADA).cookies[COOKIE]
    elsewhere = create_api(Settings(session_secret="another secret"), runtime_engine, publisher)
    with _client(elsewhere) as client:
        client.cookies.set(COOKIE, value)
        assert client.get("/inbox", follow_redirects=False).status_code == 303


def test_a_session_ends_twelve_hours_after_sign_in(
    app: Any, engine: sa.Engine, people: None
) -> None:
    with engine.connect() as connection:
        ada = connection.execute(
            sa.text("SELECT id FROM users WHERE email = :e"), {"e": ADA}
        ).scalar_one()
    who = SignedIn(ada, ADA, None)
    secret = app.state.session_secret
    with _client(app) as client:
        for age, status in ((SESSION_SECONDS - 60, 200), (SESSION_SECONDS + 60, 303)):
            client.cookies.clear()
            value = encode(secret, who, nonce="n", issued_at=int(time.time() - age))
            client.cookies.set(COOKIE, value)
            assert client.get("/inbox", follow_redirects=False).status_code == status, age


def test_a_deactivated_user_s_session_ends(app: Any, engine: sa.Engine, people: None) -> None:
    client = _signed_in(app, ADA)
    assert client.get("/inbox").status_code == 200
    with engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE users SET is_active = false WHERE email = :e"), {"e": ADA}
        )
    assert client.get("/inbox", follow_redirects=False).status_code == 303


def test_a_wrong_password_is_refused_with_one_message_for_both_mistakes(
    browser: TestClient, people: None
) -> None:
    wrong = _sign_in(browser, ADA, "not the password at all")
    unknown = _sign_in(browser, "nobody@acme.test")
    for response in (wrong, unknown):
        assert response.status_code == 401
        assert "Wrong email or password" in response.text
        assert COOKIE not in response.cookies


def test_sign_in_goes_only_to_paths_of_this_site(browser: TestClient, people: None) -> None:
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        response = _sign_in(browser, ADA, next=target)
        assert response.headers["location"] == "/inbox", target


def test_failed_sign_ins_are_limited_per_email_and_answered_429(
    app: Any, clock: Clock, people: None
) -> None:
    client = _client(app)
    for _ in range(5):
        assert _sign_in(client, ADA, "a wrong password!").status_code == 401
    limited = _sign_in(client, ADA)  # even the right password is not checked now
    assert limited.status_code == 429
    assert "Too many failed sign-in attempts" in limited.text
    assert 1 <= int(limited.headers["Retry-After"]) <= 60
    assert COOKIE not in limited.cookies
    clock.now += 61
    assert _sign_in(client, ADA).status_code == 303


def test_failed_sign_ins_are_limited_per_client_address_across_emails(
    app: Any, clock: Clock, people: None
) -> None:
    client = _client(app)
    for number in range(5):
        assert _sign_in(client, f"guess{number}@acme.test", "a wrong password!").status_code == 401
    assert _sign_in(client, BOB).status_code == 429  # another email, the same address


def test_signing_out_ends_the_session(app: Any, people: None) -> None:
    client = _signed_in(app, ADA)
    token = _token(client.get("/inbox").text)
    response = client.post("/inbox/sign-out", data={"csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303
    assert "max-age=0" in _set_cookie(response, COOKIE).lower()
    assert client.get("/inbox", follow_redirects=False).status_code == 303


def test_the_sso_proxy_s_header_signs_in_only_with_the_proxy_s_secret(
    runtime_engine: sa.Engine, publisher: RecordingPublisher, people: None
) -> None:
    app = _app(
        runtime_engine,
        publisher,
        sso_user_header="X-Forwarded-Email",
        sso_shared_secret="proxy-secret",
    )
    with _client(app) as client:
        page = client.get("/inbox/sign-in")
        assert "Sign in with single sign-on" in page.text
        token = _token(page.text)
        refused = client.post(
            "/inbox/sign-in/sso",
            data={"csrf_token": token},
            headers={"X-Forwarded-Email": ADA},
            follow_redirects=False,
        )
        assert refused.status_code == 401
        assert COOKIE not in refused.cookies
        accepted = client.post(
            "/inbox/sign-in/sso",
            data={"csrf_token": token},
            headers={"X-Forwarded-Email": ADA, "X-AgentWorker-Proxy-Secret": "proxy-secret"},
            follow_redirects=False,
        )
        assert accepted.status_code == 303
        assert ADA in client.get("/inbox").text


# --- CSRF ------------------------------------------------------------------------------------


def test_a_sign_in_posted_without_its_csrf_token_is_refused(
    browser: TestClient, people: None
) -> None:
    browser.get("/inbox/sign-in")
    response = browser.post(
        "/inbox/sign-in", data={"email": ADA, "password": PASSWORD}, follow_redirects=False
    )
    assert response.status_code == 403
    assert "security token" in response.text
    assert COOKIE not in response.cookies


def test_a_decision_posted_without_its_csrf_token_or_with_another_session_s_is_refused(
    app: Any, engine: sa.Engine, people: None
) -> None:
    approval_id = pending_tool_approval(engine)
    ada, bob = _signed_in(app, ADA), _signed_in(app, BOB)
    bobs_token = _token(bob.get(f"/inbox/approvals/{approval_id}").text)
    for data in ({}, {"csrf_token": ""}, {"csrf_token": bobs_token}, {"csrf_token": "0" * 64}):
        response = ada.post(
            f"/inbox/approvals/{approval_id}/decision",
            data={"decision": "approve", **data},
            follow_redirects=False,
        )
        assert response.status_code == 403, data
        assert 'data-testid="csrf-refused"' in response.text
    assert _pending(engine, approval_id) == "pending"


def test_a_session_s_token_changes_at_sign_in(browser: TestClient, people: None) -> None:
    before = _token(browser.get("/inbox/sign-in").text)
    _sign_in(browser, ADA)
    after = _token(browser.get("/inbox").text)
    assert before != after


# --- what each person sees -------------------------------------------------------------------


def test_the_inbox_lists_what_my_role_may_decide_in_my_tenants_oldest_first(
    app: Any, engine: sa.Engine, people: None
) -> None:
    first = pending_tool_approval(engine, title="first ask")
    second = pending_tool_approval(engine, title="second ask")
    for_admins = pending_tool_approval(
        engine, title="admins only", required_role=MembershipRole.ADMIN
    )
    elsewhere = pending_tool_approval(engine, "globex", title="globex ask")
    expired = pending_tool_approval(engine, title="too late")
    with engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE approvals SET expires_at = now() - interval '1 second' WHERE id = :i"),
            {"i": expired},
        )

    def listed(email: str) -> list[str]:
        html = _signed_in(app, email).get("/inbox").text
        return re.findall(r'<tr data-approval-id="([0-9a-f-]+)">', html)

    assert listed(ADA) == [str(first), str(second)]
    assert listed(BOB) == [str(first), str(second), str(for_admins)]
    assert listed(GUS) == [str(elsewhere)]
    mia = _signed_in(app, MIA).get("/inbox").text
    assert 'data-testid="inbox-empty"' in mia
    assert listed(MIA) == []


def test_the_list_shows_age_and_time_to_expiry(app: Any, engine: sa.Engine, people: None) -> None:
    approval_id = pending_tool_approval(engine)
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "UPDATE approvals SET created_at = now() - interval '3 hours', "
                "expires_at = now() + interval '90 minutes' WHERE id = :i"
            ),
            {"i": approval_id},
        )
    html = _signed_in(app, ADA).get("/inbox").text
    row = html[html.index(f'data-approval-id="{approval_id}"') :]
    assert "3 h" in row[:2000]
    assert re.search(r"1 h (29|30) min", row[:2000])


def test_an_approval_of_another_tenant_is_not_found(
    app: Any, engine: sa.Engine, people: None
) -> None:
    approval_id = pending_tool_approval(engine, "globex")
    ada = _signed_in(app, ADA)
    assert ada.get(f"/inbox/approvals/{approval_id}").status_code == 404
    assert ada.get(f"/inbox/approvals/{approval_id}/status.json").status_code == 404
    token = _token(ada.get("/inbox").text)
    refused = ada.post(
        f"/inbox/approvals/{approval_id}/decision",
        data={"decision": "approve", "csrf_token": token},
    )
    assert refused.status_code == 404
    assert _pending(engine, approval_id) == "pending"


def test_a_member_without_the_role_sees_the_approval_but_no_form(
    app: Any, engine: sa.Engine, people: None
) -> None:
    approval_id = pending_tool_approval(engine)
    mia = _signed_in(app, MIA)
    page = mia.get(f"/inbox/approvals/{approval_id}")
    assert page.status_code == 200
    assert 'data-testid="cannot-decide"' in page.text
    assert "/decision" not in page.text
    token = _token(page.text)
    refused = mia.post(
        f"/inbox/approvals/{approval_id}/decision",
        data={"decision": "approve", "csrf_token": token},
    )
    assert refused.status_code == 403
    assert "is &#39;member&#39; in tenant &#39;acme&#39;" in refused.text
    assert "needs &#39;approver&#39; or above" in refused.text
    assert _pending(engine, approval_id) == "pending"


# --- deciding --------------------------------------------------------------------------------


def _decide(client: TestClient, approval_id: uuid.UUID, **data: str) -> Any:
    page = client.get(f"/inbox/approvals/{approval_id}").text
    digest = re.search(r'name="digest" value="([0-9a-f]*)"', page)
    assert digest
    return client.post(
        f"/inbox/approvals/{approval_id}/decision",
        data={"csrf_token": _token(page), "digest": digest.group(1), **data},
        follow_redirects=False,
    )


def test_an_approval_through_the_inbox_is_the_signed_in_user_s_vote(
    app: Any, engine: sa.Engine, publisher: RecordingPublisher, people: None
) -> None:
    approval_id = pending_tool_approval(engine)
    ada = _signed_in(app, ADA)
    response = _decide(ada, approval_id, decision="approve", comment="fine by me")
    assert response.status_code == 303
    with engine.connect() as connection:
        vote = connection.execute(
            sa.text(
                "SELECT approver, principal_kind, principal, comment, digest FROM "
                "approval_decisions WHERE approval_id = :i"
            ),
            {"i": approval_id},
        ).one()
        status = connection.execute(
            sa.text("SELECT status FROM approvals WHERE id = :i"), {"i": approval_id}
        ).scalar_one()
    assert status == "approved"
    assert (vote.approver, vote.principal_kind, vote.principal, vote.comment) == (
        ADA,
        "user",
        f"inbox: {ADA}",
        "fine by me",
    )
    assert vote.digest  # bound to the call the page showed
    assert "agents.run_task" in " ".join(publisher.names())  # the parked task is woken
    page = ada.get(f"/inbox/approvals/{approval_id}").text
    assert f"approved by {ADA} at" in page
    assert "fine by me" in page
    status_json = ada.get(f"/inbox/approvals/{approval_id}/status.json").json()
    assert status_json["status"] == "approved"
    assert status_json["message"].startswith(f"already approved by {ADA} at ")


def test_a_second_approver_is_told_who_decided_first(
    app: Any, engine: sa.Engine, people: None
) -> None:
    approval_id = pending_tool_approval(engine)
    ada, bob = _signed_in(app, ADA), _signed_in(app, BOB)
    bob_page = bob.get(f"/inbox/approvals/{approval_id}").text
    assert _decide(ada, approval_id, decision="reject", comment="no").status_code == 303
    late = bob.post(
        f"/inbox/approvals/{approval_id}/decision",
        data={"csrf_token": _token(bob_page), "decision": "approve"},
    )
    assert late.status_code == 409
    assert f"Already rejected by {ADA} at" in late.text


def test_edited_arguments_are_checked_against_the_tool_s_schema_and_the_error_shown(
    app: Any, engine: sa.Engine, people: None
) -> None:
    approval_id = pending_tool_approval(engine)
    ada = _signed_in(app, ADA)
    not_json = _decide(ada, approval_id, decision="approve", arguments="{to: nobody")
    assert not_json.status_code == 422
    assert "not valid JSON" in not_json.text
    assert "{to: nobody" in not_json.text  # what was typed is kept for fixing
    wrong = _decide(
        ada, approval_id, decision="approve", arguments='{"to": "ops@acme.test", "subject": ""}'
    )
    assert wrong.status_code == 422
    assert "schema" in wrong.text and "subject" in wrong.text
    assert _pending(engine, approval_id) == "pending"
    edited = {"to": "ceo@acme.test", "subject": "Venue", "body": "Booked, and paid."}
    accepted = _decide(ada, approval_id, decision="approve", arguments=json.dumps(edited))
    assert accepted.status_code == 303
    with engine.connect() as connection:
        stored = connection.execute(
            sa.text("SELECT status, approved_arguments FROM approvals WHERE id = :i"),
            {"i": approval_id},
        ).one()
    assert (stored.status, stored.approved_arguments) == ("approved", edited)
    assert "ceo@acme.test" in ada.get(f"/inbox/approvals/{approval_id}").text


def test_a_decision_on_a_call_that_changed_since_the_page_was_shown_is_refused(
    app: Any, engine: sa.Engine, people: None
) -> None:
    approval_id = pending_tool_approval(engine)
    ada = _signed_in(app, ADA)
    page = ada.get(f"/inbox/approvals/{approval_id}").text
    response = ada.post(
        f"/inbox/approvals/{approval_id}/decision",
        data={"csrf_token": _token(page), "decision": "approve", "digest": "f" * 64},
    )
    assert response.status_code == 409
    assert "changed since this page was shown" in response.text
    assert _pending(engine, approval_id) == "pending"


def test_a_person_in_two_tenants_sees_both_by_the_role_held_in_each(
    app: Any, engine: sa.Engine, people: None
) -> None:
    add_member(engine, "globex", ADA, "member")  # approver in acme, member in globex
    add_member(engine, "initech", ADA, "owner")
    in_acme = pending_tool_approval(engine, "acme", title="acme ask")
    pending_tool_approval(engine, "globex", title="globex ask")
    in_initech = pending_tool_approval(
        engine, "initech", title="initech ask", required_role=MembershipRole.OWNER
    )
    html = _signed_in(app, ADA).get("/inbox").text
    listed = re.findall(r'<tr data-approval-id="([0-9a-f-]+)">', html)
    assert listed == [str(in_acme), str(in_initech)]
