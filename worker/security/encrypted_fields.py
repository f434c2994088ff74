"""Every place we store something encrypted with ``AGENTWORKER_ENCRYPTION_KEYS``, in one list,
so that key rotation and ``agentworker keys verify`` miss none of them.

A place is a table's column holding a Fernet token (bytes or text), or, with ``json_path``, a
JSON column holding an object whose values are tokens (``tenants.provider_configs["secrets"]``).
Whoever stores a new encrypted value registers its place here, with one line.

Rotation (``rotate_encrypted_fields``) re-encrypts, in one transaction, every token that the
first key cannot decrypt; ``verify_encrypted_fields`` lists every token no configured key can
decrypt. Both read every tenant's rows: they run as an operator, before any tenant is known.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

import models
from models import Tenant
from models.tenant_scope import scope_transaction
from worker.security.encryption import SecretBox, UndecryptableSecret


@dataclass(frozen=True)
class EncryptedField:
    table: str
    column: str
    #: For a JSON column: the keys leading to an object whose every value is a token.
    json_path: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        path = "".join(f"[{key!r}]" for key in self.json_path)
        return f"{self.table}.{self.column}{path}"


ENCRYPTED_FIELDS: list[EncryptedField] = [
    EncryptedField("ai_models", "api_key_encrypted"),  # provider API keys
    EncryptedField("tenants", "provider_configs", ("secrets",)),  # tenant secrets
    EncryptedField("api_keys", "signing_secret_encrypted"),  # API-key signing secrets
    EncryptedField("webhook_endpoints", "secret_encrypted"),  # webhook signing secrets
]


def register(field: EncryptedField) -> EncryptedField:
    """Add a place (idempotent); returns it."""
    if field not in ENCRYPTED_FIELDS:
        ENCRYPTED_FIELDS.append(field)
    return field


@dataclass(frozen=True)
class PlaceRotation:
    place: str
    rotated: int  # tokens re-encrypted under the first key
    already_current: int
    rows_changed: int


@dataclass(frozen=True)
class Undecryptable:
    place: str
    row_id: str
    item: str | None  # the JSON key, for a JSON place


def rotate_encrypted_fields(engine: sa.Engine, box: SecretBox) -> list[PlaceRotation]:
    """Re-encrypt every stored token under the first key, all places in one transaction (an
    undecryptable token aborts it all: ``UndecryptableSecret``, nothing changed)."""
    totals = {field.name: [0, 0, 0] for field in ENCRYPTED_FIELDS}
    seen: set[tuple[str, Any]] = set()  # a global row is visible from every tenant's scope
    with engine.begin() as connection:
        for tenant_id in _scopes(connection):
            scope_transaction(connection, tenant_id)
            for field in ENCRYPTED_FIELDS:
                counts = totals[field.name]
                for row_id, value in _all_rows(connection, field, for_update=True):
                    if (field.name, row_id) in seen:
                        continue
                    seen.add((field.name, row_id))
                    new_value, row_rotated, row_current = _rotated(field, value, box)
                    counts[0] += row_rotated
                    counts[1] += row_current
                    if row_rotated:
                        _write(connection, field, row_id, new_value)
                        counts[2] += 1
    return [PlaceRotation(name, *counts) for name, counts in totals.items()]


def verify_encrypted_fields(engine: sa.Engine, box: SecretBox) -> list[Undecryptable]:
    """Every stored token that no configured key decrypts (empty: all is readable)."""
    failures: dict[tuple[str, str, str | None], Undecryptable] = {}
    with engine.begin() as connection:
        for tenant_id in _scopes(connection):
            scope_transaction(connection, tenant_id)
            for field in ENCRYPTED_FIELDS:
                for row_id, value in _all_rows(connection, field, for_update=False):
                    for item, token in _tokens(field, value):
                        try:
                            box.decrypt(_as_bytes(token))
                        except UndecryptableSecret:
                            failure = Undecryptable(field.name, str(row_id), item)
                            failures[(failure.place, failure.row_id, item)] = failure
    return list(failures.values())


def _scopes(connection: sa.Connection) -> list[uuid.UUID | None]:
    """No tenant first (the global rows), then every tenant: row-level security shows each
    scope its own rows, so visiting them all is how rotation sees everything."""
    tenants = connection.execute(sa.select(Tenant.id).order_by(Tenant.id)).scalars().all()
    return [None, *tenants]


# --- the only queries: every row of a place, across tenants ----------------------------------


def _all_rows(
    connection: sa.Connection, field: EncryptedField, *, for_update: bool
) -> Iterator[tuple[Any, Any]]:
    """(primary key, value) of every row of the place that holds something (all tenants)."""
    table = _table(field)
    (key,) = table.primary_key.columns
    column = table.c[field.column]
    statement = sa.select(key, column).where(column.is_not(None)).order_by(key)
    if for_update:
        statement = statement.with_for_update()
    for row in connection.execute(statement):
        yield row[0], row[1]


def _write(connection: sa.Connection, field: EncryptedField, row_id: Any, value: Any) -> None:
    table = _table(field)
    (key,) = table.primary_key.columns
    connection.execute(sa.update(table).where(key == row_id).values({field.column: value}))


def _table(field: EncryptedField) -> sa.Table:
    table = models.Base.metadata.tables.get(field.table)
    if table is None or field.column not in table.c:
        raise LookupError(
            f"encrypted place {field.name} is not in the models; fix its entry in "
            "worker/security/encrypted_fields.py"
        )
    return table


# --- tokens in a value --------------------------------------------------------------------------


def _tokens(field: EncryptedField, value: Any) -> Iterator[tuple[str | None, Any]]:
    if not field.json_path:
        yield None, value
        return
    container = _at_path(value, field.json_path)
    for key, token in sorted(container.items()):
        if isinstance(token, str):
            yield key, token


def _rotated(field: EncryptedField, value: Any, box: SecretBox) -> tuple[Any, int, int]:
    """(the value with its tokens rotated, how many were rotated, how many were current)."""
    if not field.json_path:
        token = _as_bytes(value)
        if not box.needs_rotation(token):
            return value, 0, 1
        new = box.rotate(token)
        return (new if isinstance(value, bytes | memoryview) else new.decode()), 1, 0
    rotated = current = 0
    container = dict(_at_path(value, field.json_path))
    for key, token in list(container.items()):
        if not isinstance(token, str):
            continue
        if box.needs_rotation(token.encode()):
            container[key] = box.rotate(token.encode()).decode()
            rotated += 1
        else:
            current += 1
    return _with_path(value, field.json_path, container), rotated, current


def _at_path(value: Any, path: tuple[str, ...]) -> dict[str, Any]:
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return value if isinstance(value, dict) else {}


def _with_path(value: Any, path: tuple[str, ...], container: dict[str, Any]) -> Any:
    if not path:
        return container
    copy = dict(value) if isinstance(value, dict) else {}
    copy[path[0]] = _with_path(copy.get(path[0]), path[1:], container)
    return copy


def _as_bytes(token: Any) -> bytes:
    return token.encode() if isinstance(token, str) else bytes(token)
