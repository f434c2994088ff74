"""Users sign in with a password (scrypt), through a trusted SSO header when configured, or
with a per-user token for scripts; each becomes a USER principal."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from models import MembershipRole
from tests.support.agents import ensure_tenant
from worker.core.settings import Settings
from worker.security.credentials import Forbidden, Unauthenticated
from worker.security.principals import PrincipalKind, Scope
from worker.security.user_tokens import (
    authenticate_user_token,
    issue_user_token,
    list_user_tokens,
    revoke_user_token,
)
from worker.security.users import (
    add_user,
    authenticate_password,
    authenticate_sso_header,
    set_password,
)

PASSWORD = "a long enough passphrase"
SSO = Settings(sso_user_header="X-Forwarded-Email", sso_shared_secret="proxy-secret-123456")


@pytest.fixture
def ada(engine: sa.Engine) -> str:
    tenant_id = ensure_tenant(engine)
    with engine.begin() as connection:
        add_user(
            connection, email="ada@example.com", tenant_id=tenant_id, role=MembershipRole.APPROVER
        )
        set_password(connection, "ada@example.com", PASSWORD)
    return "ada@example.com"


def test_the_password_is_stored_as_a_scrypt_hash(engine: sa.Engine, ada: str) -> None:
    with engine.connect() as connection:
        stored = connection.execute(sa.text("SELECT password_hash FROM users")).scalar_one()

    assert stored.startswith("scrypt$n=")
    assert PASSWORD not in stored


def test_the_right_password_signs_in_as_a_user_with_the_scopes_of_the_role(
    engine: sa.Engine, ada: str
) -> None:
    with engine.begin() as connection:
        anywhere = authenticate_password(connection, "ADA@example.com", PASSWORD)
        in_acme = authenticate_password(connection, ada, PASSWORD, tenant="acme")

    assert anywhere.kind == PrincipalKind.USER and anywhere.tenant_id is None
    assert in_acme.tenant_id == ensure_tenant(engine)
    assert in_acme.user_id == anywhere.user_id
    assert in_acme.scopes == {Scope.SUBMIT, Scope.READ, Scope.DECIDE}
    assert in_acme.label == ada


def test_a_wrong_password_and_an_unknown_email_get_the_same_answer(
    engine: sa.Engine, ada: str
) -> None:
    with engine.begin() as connection:
        with pytest.raises(Unauthenticated, match=r"^wrong email or password$"):
            authenticate_password(connection, ada, PASSWORD + "!")
        with pytest.raises(Unauthenticated, match=r"^wrong email or password$"):
            authenticate_password(connection, "nobody@example.com", PASSWORD)


def test_a_user_without_a_membership_is_refused_in_that_tenant(engine: sa.Engine, ada: str) -> None:
    ensure_tenant(engine, "globex")
    with engine.begin() as connection, pytest.raises(Forbidden, match="not a member"):
        authenticate_password(connection, ada, PASSWORD, tenant="globex")


def test_a_short_password_is_refused_when_set(engine: sa.Engine, ada: str) -> None:
    with engine.begin() as connection, pytest.raises(Exception, match="at least 12"):
        set_password(connection, ada, "short")


def test_sso_header_sign_in_is_off_unless_configured(engine: sa.Engine, ada: str) -> None:
    with engine.begin() as connection, pytest.raises(Unauthenticated, match="not configured"):
        authenticate_sso_header(connection, {"X-Forwarded-Email": ada}, Settings())


def test_the_sso_header_is_refused_without_the_proxys_shared_secret(
    engine: sa.Engine, ada: str
) -> None:
    with engine.begin() as connection:
        with pytest.raises(Unauthenticated, match="only from the SSO proxy"):
            authenticate_sso_header(connection, {"X-Forwarded-Email": ada}, SSO)
        with pytest.raises(Unauthenticated, match="only from the SSO proxy"):
            authenticate_sso_header(
                connection,
                {"X-Forwarded-Email": ada, "X-AgentWorker-Proxy-Secret": "guessed"},
                SSO,
            )


def test_the_sso_header_with_the_shared_secret_signs_the_user_in(
    engine: sa.Engine, ada: str
) -> None:
    headers = {"x-forwarded-email": ada, "x-agentworker-proxy-secret": "proxy-secret-123456"}
    with engine.begin() as connection:
        principal = authenticate_sso_header(connection, headers, SSO, tenant="acme")
        with pytest.raises(Unauthenticated, match="not an active user"):
            authenticate_sso_header(
                connection, {**headers, "x-forwarded-email": "eve@example.com"}, SSO
            )

    assert principal.kind == PrincipalKind.USER and principal.label == ada
    assert principal.allows(Scope.DECIDE)


def test_configuring_the_sso_header_without_its_secret_is_refused() -> None:
    with pytest.raises(ValueError, match="AGENTWORKER_SSO_SHARED_SECRET"):
        Settings(sso_user_header="X-Forwarded-Email")


def test_a_user_token_acts_as_its_user_in_its_tenant_until_revoked(
    engine: sa.Engine, ada: str
) -> None:
    tenant_id = ensure_tenant(engine)
    with engine.begin() as connection:
        issued = issue_user_token(connection, email=ada, tenant_id=tenant_id, name="cron")
    with engine.connect() as connection:
        stored = connection.execute(sa.text("SELECT * FROM user_tokens")).one()
    assert issued.token.startswith("awu_") and issued.token not in str(tuple(stored))

    with engine.begin() as connection:
        principal = authenticate_user_token(connection, issued.token)
    assert (principal.kind, principal.tenant_id, principal.user_id) == (
        PrincipalKind.USER,
        tenant_id,
        issued.user_id,
    )
    assert principal.allows(Scope.DECIDE)

    with engine.begin() as connection:
        revoke_user_token(connection, issued.prefix)
        (view,) = list_user_tokens(connection, email=ada, tenant_id=tenant_id)
    assert view.revoked_at is not None and view.last_used_at is not None
    with engine.begin() as connection, pytest.raises(Unauthenticated, match="revoked"):
        authenticate_user_token(connection, issued.token)


def test_an_expired_or_forged_user_token_is_refused(engine: sa.Engine, ada: str) -> None:
    tenant_id = ensure_tenant(engine)
    with engine.begin() as connection:
        old = issue_user_token(
            connection,
            email=ada,
            tenant_id=tenant_id,
            expires_at=datetime.now(UTC) - timedelta(minutes=1),
        )
        fresh = issue_user_token(connection, email=ada, tenant_id=tenant_id)

    with engine.begin() as connection:
        with pytest.raises(Unauthenticated, match="expired"):
            authenticate_user_token(connection, old.token)
        with pytest.raises(Unauthenticated, match="wrong user token"):
            authenticate_user_token(connection, fresh.prefix + "0" * 40)
