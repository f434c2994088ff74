"""``/v1/settings``: the tenant's configuration values (seed 004's ``SystemSettings``).

A tenant's row overrides the system-wide row of its key (``tenant_id`` NULL), which overrides a
built-in default (``worker.orchestrator.defaults.DEFAULTS``). ``GET`` shows each key once, with
the value in force and where it comes from. Writes (``admin``) set the tenant's own rows only:
``PUT /v1/settings/{key}``, or ``POST /v1/settings/bulk`` (seed 004's
``SystemSettingsBulkUpdate``), which writes every key or, if one is refused, none.

What a value may be depends on its key: ``retention.<policy>`` is checked and written by the
retention policies (``parse_override`` / ``save_override``); ``orchestrator.*`` must be a key of
``DEFAULTS`` with a value of its default's type; any other key takes any JSON value.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter
from fastapi import Path as PathParam
from pydantic import BaseModel, Field
from sqlalchemy.dialects.postgresql import insert as pg_insert

from models import SystemSetting
from worker.api.problems import Problem
from worker.api.resources._common import Body, Caller, DetailedProblem, caller, table_of
from worker.ops.retention.policies import (
    SETTING_PREFIX,
    RetentionSettingError,
    parse_override,
    policy_named,
    save_override,
)
from worker.orchestrator import DEFAULTS
from worker.security.principals import Scope

_settings = table_of(SystemSetting)
_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")
MAX_BULK = 100
Key = Annotated[str, PathParam(min_length=1, max_length=100)]


class SystemSettingsUpdate(Body):
    value: Any = Field(description="Any JSON; what a key takes is checked by its prefix.")
    description: Annotated[str, Field(max_length=1000)] | None = None


class SystemSettingsBulkUpdate(Body):
    settings: dict[str, Any] = Field(
        min_length=1, max_length=MAX_BULK, description="Key → value; all are written or none."
    )


class SystemSettingResponse(BaseModel):
    key: str
    value: Any = Field(description="The value in force for this tenant.")
    source: Literal["tenant", "system", "default"]
    description: str | None = None
    system_value: Any = Field(default=None, description="The system-wide row's value, if any.")
    default: Any = Field(default=None, description="The built-in default, for a DEFAULTS key.")
    updated_at: datetime | None = None


class SystemSettingsResponse(BaseModel):
    settings: list[SystemSettingResponse]


def _bad_key(key: str, detail: str) -> Problem:
    return DetailedProblem(Problem(422, "invalid_setting", "Invalid setting", detail), key=key)


def check(key: str, value: Any) -> None:
    """Refuse ``value`` for ``key`` with a 422 naming the key and what it takes."""
    if not _KEY.match(key):
        raise _bad_key(
            key,
            f"setting key {key!r} must be 1-100 letters, digits, '_', '.', ':' or '-', "
            "starting with a letter or digit",
        )
    if key.startswith(SETTING_PREFIX):
        try:
            parse_override(policy_named(key[len(SETTING_PREFIX) :]), value, where=f"{key!r}")
        except RetentionSettingError as error:
            raise _bad_key(key, str(error)) from None
    elif key.startswith("orchestrator."):
        if key not in DEFAULTS:
            known = ", ".join(sorted(DEFAULTS))
            raise _bad_key(key, f"no orchestrator setting {key!r}; the known ones are {known}")
        default = DEFAULTS[key][0]
        if type(value) is not type(default):
            raise _bad_key(
                key,
                f"{key!r} takes a value of type {type(default).__name__} (its default is "
                f"{default!r}), not {value!r}: send a value of that type",
            )


def _write(
    connection: sa.Connection, who: Caller, key: str, value: Any, description: str | None
) -> None:
    if key.startswith(SETTING_PREFIX):
        save_override(
            connection,
            who.tenant_id,
            key[len(SETTING_PREFIX) :],
            keep_days=value.get("keep_days"),
            enabled=value.get("enabled"),
        )
        if description is not None:
            connection.execute(
                sa.update(_settings)
                .where(_settings.c.tenant_id == who.tenant_id, _settings.c.key == key)
                .values(description=description)
            )
    else:
        row: dict[str, Any] = {"tenant_id": who.tenant_id, "key": key, "value": value}
        if description is not None:
            row["description"] = description
        statement = pg_insert(_settings).values(id=uuid.uuid4(), **row)
        connection.execute(
            statement.on_conflict_do_update(
                index_elements=["tenant_id", "key"],
                set_={k: statement.excluded[k] for k in row if k not in ("tenant_id", "key")},
            )
        )
    who.audit(connection, "setting.updated", "system_setting", key, {"key": key, "value": value})


def _effective(connection: sa.Connection, who: Caller) -> list[SystemSettingResponse]:
    rows = connection.execute(
        sa.select(_settings).where(
            sa.or_(_settings.c.tenant_id == who.tenant_id, _settings.c.tenant_id.is_(None))
        )
    ).all()
    own = {r.key: r for r in rows if r.tenant_id is not None}
    shared = {r.key: r for r in rows if r.tenant_id is None}
    entries = []
    for key in sorted(own.keys() | shared.keys() | DEFAULTS.keys()):
        default, meaning = DEFAULTS.get(key, (None, None))
        chosen = own.get(key) or shared.get(key)
        source: Literal["tenant", "system", "default"] = (
            "tenant" if key in own else "system" if key in shared else "default"
        )
        entries.append(
            SystemSettingResponse(
                key=key,
                value=chosen.value if chosen is not None else default,
                source=source,
                description=(chosen.description if chosen is not None else None) or meaning,
                system_value=shared[key].value if key in shared else None,
                default=default,
                updated_at=chosen.updated_at if chosen is not None else None,
            )
        )
    return entries


def _entry(connection: sa.Connection, who: Caller, key: str) -> SystemSettingResponse:
    return next(e for e in _effective(connection, who) if e.key == key)


def router() -> APIRouter:
    routes = APIRouter(prefix="/v1/settings", tags=["settings"])
    reader, admin = caller(Scope.READ), caller(Scope.ADMIN)

    @routes.get("", summary="Every setting in force for the tenant, and where it comes from")
    def list_settings(who: Caller = reader) -> SystemSettingsResponse:
        with who.transaction() as connection:
            return SystemSettingsResponse(settings=_effective(connection, who))

    @routes.put("/{key}", summary="Set the tenant's value of a key (admin)")
    def put_setting(
        key: Key, body: SystemSettingsUpdate, who: Caller = admin
    ) -> SystemSettingResponse:
        check(key, body.value)
        with who.transaction() as connection:
            _write(connection, who, key, body.value, body.description)
            return _entry(connection, who, key)

    @routes.post(
        "/bulk",
        summary="Set several keys in one transaction: all or none (admin)",
        responses={422: {"description": "A key or value is refused (`key`): nothing changed"}},
    )
    def bulk_update(body: SystemSettingsBulkUpdate, who: Caller = admin) -> SystemSettingsResponse:
        for key, value in body.settings.items():
            check(key, value)
        with who.transaction() as connection:
            for key, value in body.settings.items():
                _write(connection, who, key, value, None)
            return SystemSettingsResponse(settings=_effective(connection, who))

    return routes
