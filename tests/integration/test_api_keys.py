"""Tenant API keys: shown once, stored hashed and encrypted, listed without the key, revoked,
and authenticated as a bearer (and the tenant's legacy key, seed 003's api_key_hash)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from tests.support.agents import ensure_tenant
from worker.security.api_keys import authenticate_bearer, issue_key, list_keys, revoke_key
from worker.security.credentials import Unauthenticated
from worker.security.encryption import SecretBox, generate_key
from worker.security.principals import PrincipalKind, Scope

BOX = SecretBox([generate_key()])


def _issue(engine: sa.Engine, tenant: str = "acme", **options: object):  # type: ignore[no-untyped-def]
    tenant_id = ensure_tenant(engine, tenant)
    with engine.begin() as connection:
        return issue_key(
            connection,
            BOX,
            tenant_id=tenant_id,
            name=str(options.pop("name", "billing")),
            scopes=options.pop("scopes", ["submit"]),  # type: ignore[arg-type]
            **options,  # type: ignore[arg-type]
        )


def test_a_key_is_stored_only_hashed_and_encrypted_and_its_prefix_is_part_of_it(
    engine: sa.Engine,
) -> None:
    issued = _issue(engine, scopes=["submit", "read"])

    assert issued.key.startswith("awk_") and len(issued.key) == 52
    assert issued.prefix == issued.key[:12]
    with engine.connect() as connection:
        row = connection.execute(sa.text("SELECT * FROM api_keys")).one()
    assert issued.key not in str(tuple(row))
    assert row.key_hash == hashlib.sha256(issued.key.encode()).hexdigest()
    assert BOX.decrypt(row.signing_secret_encrypted) == issued.key
    assert row.scopes == ["submit", "read"]


def test_listing_shows_prefix_name_scopes_and_state_never_the_key(engine: sa.Engine) -> None:
    issued = _issue(engine, name="crm", scopes=["decide"])
    tenant_id = ensure_tenant(engine)

    with engine.connect() as connection:
        (view,) = list_keys(connection, tenant_id)

    assert (view.prefix, view.name, view.scopes, view.state()) == (
        issued.prefix,
        "crm",
        ("decide",),
        "active",
    )
    assert issued.key not in repr(view)


def test_a_bearer_key_authenticates_as_its_tenants_service_and_records_its_use(
    engine: sa.Engine,
) -> None:
    issued = _issue(engine, scopes=["submit", "read"])

    with engine.begin() as connection:
        principal = authenticate_bearer(connection, issued.key)

    assert principal.kind == PrincipalKind.SERVICE_KEY
    assert principal.tenant_id == issued.tenant_id
    assert principal.key_id == issued.key_id
    assert principal.scopes == {Scope.SUBMIT, Scope.READ}
    assert principal.label == f"key {issued.prefix} (billing)"
    with engine.connect() as connection:
        (view,) = list_keys(connection, issued.tenant_id)
    assert view.last_used_at is not None


def test_a_key_with_the_right_prefix_but_a_wrong_rest_is_refused(engine: sa.Engine) -> None:
    issued = _issue(engine)
    forged = issued.prefix + ("A" if issued.key[12] != "A" else "B") + issued.key[13:]

    with engine.begin() as connection, pytest.raises(Unauthenticated, match="wrong API key"):
        authenticate_bearer(connection, forged)


def test_a_revoked_key_is_refused_and_revoking_twice_changes_nothing(engine: sa.Engine) -> None:
    issued = _issue(engine)

    with engine.begin() as connection:
        first = revoke_key(connection, issued.prefix)
    with engine.begin() as connection:
        second = revoke_key(connection, issued.prefix)

    assert first.state() == "revoked" and second.revoked_at == first.revoked_at
    with engine.begin() as connection, pytest.raises(Unauthenticated, match="was revoked"):
        authenticate_bearer(connection, issued.key)


def test_an_expired_key_is_refused(engine: sa.Engine) -> None:
    issued = _issue(engine, expires_at=datetime.now(UTC) - timedelta(seconds=1))

    with engine.begin() as connection, pytest.raises(Unauthenticated, match="expired"):
        authenticate_bearer(connection, issued.key)


def test_an_unknown_key_and_unknown_scopes_are_refused(engine: sa.Engine) -> None:
    with engine.begin() as connection, pytest.raises(Unauthenticated, match="unknown API key"):
        authenticate_bearer(connection, "awk_" + "Z" * 48)
    with pytest.raises(Exception, match="unknown scope 'write'"):
        _issue(engine, scopes=["write"])


def test_the_tenants_legacy_key_authenticates_with_submit_and_read_only(engine: sa.Engine) -> None:
    tenant_id = ensure_tenant(engine)
    legacy = "legacy-key-of-acme-0123456789"
    with engine.begin() as connection:
        connection.execute(
            sa.text("UPDATE tenants SET api_key_hash = :h WHERE id = :t"),
            {"h": hashlib.sha256(legacy.encode()).hexdigest(), "t": tenant_id},
        )

    with engine.begin() as connection:
        principal = authenticate_bearer(connection, legacy)
    with engine.begin() as connection, pytest.raises(Unauthenticated):
        authenticate_bearer(connection, legacy + "x")

    assert principal.tenant_id == tenant_id
    assert principal.scopes == {Scope.SUBMIT, Scope.READ}
    assert not principal.allows(Scope.DECIDE)
