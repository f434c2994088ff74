"""Key rotation re-encrypts everything encrypted under the old key (issue 12, item 6): provider
keys, tenant secrets and API-key signing secrets, each place listed once in
``worker.security.encrypted_fields``; ``keys verify`` then proves nothing is left behind."""

from __future__ import annotations

import os
import subprocess
import sys

import sqlalchemy as sa

from tests.support.agents import ensure_tenant
from tests.support.rows import RowFactory
from tests.support.stack import ROOT
from worker.security.encrypted_fields import ENCRYPTED_FIELDS
from worker.security.encryption import SecretBox, generate_key
from worker.security.secret_refs import store_tenant_secret

OLD, NEW = generate_key(), generate_key()


def _keys(
    database_url: str, keys: str, *args: str, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url, "AGENTWORKER_ENCRYPTION_KEYS": keys}
    return subprocess.run(
        [sys.executable, "-c", "from worker.cli import main; main()", "keys", *args],
        cwd=ROOT,
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _store_everything_under_old_key(engine: sa.Engine, database_url: str) -> None:
    ensure_tenant(engine)
    stored = _keys(
        database_url,
        OLD,
        "set-provider",
        "--tenant",
        "acme",
        "--name",
        "llm",
        "--model",
        "m",
        stdin="provider-key-123\n",
    )
    assert stored.returncode == 0, stored.stderr
    box = SecretBox((OLD,))
    with engine.begin() as connection:
        tenant_id = ensure_tenant(engine)
        store_tenant_secret(connection, box, tenant_id, "crm", "crm-secret-1")
        store_tenant_secret(connection, box, tenant_id, "erp", "erp-secret-2")
        RowFactory(connection).insert(
            "api_keys",
            tenant_id=tenant_id,
            scopes=["submit"],
            signing_secret_encrypted=box.encrypt("signing-secret-3"),
        )


def _every_value(engine: sa.Engine, box: SecretBox) -> set[str]:
    with engine.connect() as connection:
        provider = connection.execute(sa.text("SELECT api_key_encrypted FROM ai_models")).scalar()
        secrets = connection.execute(
            sa.text("SELECT provider_configs->'secrets' FROM tenants WHERE slug = 'acme'")
        ).scalar()
        signing = connection.execute(
            sa.text("SELECT signing_secret_encrypted FROM api_keys")
        ).scalar()
    return {
        box.decrypt(bytes(provider)),
        *(box.decrypt(token.encode()) for token in secrets.values()),
        box.decrypt(bytes(signing)),
    }


def test_rotating_then_dropping_the_old_key_leaves_nothing_undecryptable(
    engine: sa.Engine, runtime_database_url: str
) -> None:
    # The CLI logs in as the runtime role: row-level security shows it one tenant at a time,
    # and rotation still reaches every tenant's secrets.
    database_url = runtime_database_url
    ensure_tenant(engine, "other")
    _store_everything_under_old_key(engine, database_url)
    before = _keys(database_url, NEW, "verify")
    assert before.returncode == 1
    assert "cannot decrypt: tenants.provider_configs['secrets'] row" in before.stderr
    assert "4 value(s) cannot be decrypted" in before.stderr

    rotated = _keys(database_url, f"{NEW},{OLD}", "rotate")

    assert rotated.returncode == 0, rotated.stderr
    assert (
        "ai_models.api_key_encrypted: re-encrypted 1, 0 already current (1 row(s) changed)"
        in rotated.stdout
    )
    assert (
        "tenants.provider_configs['secrets']: re-encrypted 2, 0 already current (1 row(s) changed)"
        in rotated.stdout
    )
    assert "api_keys.signing_secret_encrypted: re-encrypted 1," in rotated.stdout
    after = _keys(database_url, NEW, "verify")  # the old key dropped
    assert after.returncode == 0, after.stderr
    assert _every_value(engine, SecretBox((NEW,))) == {
        "provider-key-123",
        "crm-secret-1",
        "erp-secret-2",
        "signing-secret-3",
    }
    again = _keys(database_url, NEW, "rotate")
    assert "re-encrypted 0 value(s) in 0 row(s)" in again.stdout


def test_every_column_named_encrypted_is_a_registered_place() -> None:
    import models

    registered = {(f.table, f.column) for f in ENCRYPTED_FIELDS}
    encrypted_columns = {
        (table.name, column.name)
        for table in models.Base.metadata.tables.values()
        for column in table.columns
        if "encrypted" in column.name
    }
    assert encrypted_columns <= registered, (
        f"register {sorted(encrypted_columns - registered)} in "
        "worker/security/encrypted_fields.py so that key rotation re-encrypts them"
    )
