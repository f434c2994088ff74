"""``/v1/ai-models``: the LLM provider configurations a tenant's agents may use (seed 004's
``AIModel``).

A key's tenant sees its own rows and the system-wide ones (``tenant_id`` NULL), but writes only
its own: a system-wide row is read-only here (403); a tenant overrides it with a row of its own.
Writes need the ``admin`` scope. The API key is stored encrypted (``SecretBox`` over
``AGENTWORKER_ENCRYPTION_KEYS``, as ``agentworker providers set`` does) and never returned:
``GET /v1/ai-models/{id}`` (seed 004's ``AIModelDetailResponse``) shows it masked, e.g.
``sk-…abcd``; a system-wide row's key is shown only as set or not.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Request, Response
from pydantic import Field

from models import AIModel, ModelUsageType
from worker.api.problems import Problem, invalid, not_found
from worker.api.resources._common import (
    Body,
    Caller,
    Out,
    Page,
    PagingParams,
    caller,
    changed_fields,
    out,
    read_only,
    require_row,
    table_of,
)
from worker.core.errors import ConfigurationError
from worker.security.encryption import SecretBox, UndecryptableSecret
from worker.security.principals import Scope

_models = table_of(AIModel)
HOW_TO_FIND = "list them with GET /v1/ai-models"
#: Every column but the encrypted key.
_SHOWN = [c for c in _models.c if c.name != "api_key_encrypted"]
ApiKey = Annotated[str, Field(min_length=1, max_length=1000, description="Stored encrypted.")]


class AIModelCreate(Body):
    name: Annotated[str, Field(min_length=1, max_length=100)]
    provider: Annotated[str, Field(min_length=1, max_length=50)]
    model: Annotated[str, Field(min_length=1, max_length=200)]
    usage_type: ModelUsageType = ModelUsageType.GENERAL
    base_url: Annotated[str, Field(max_length=500)] | None = None
    api_key: ApiKey | None = None
    is_active: bool = True
    config: dict[str, Any] = Field(default_factory=dict)


class AIModelUpdate(Body):
    is_active: bool | None = None
    config: dict[str, Any] | None = None
    model: Annotated[str, Field(min_length=1, max_length=200)] | None = None
    base_url: Annotated[str, Field(max_length=500)] | None = None
    api_key: ApiKey | None = None


class AIModelResponse(Out):
    id: uuid.UUID
    name: str
    provider: str
    model: str
    base_url: str | None
    usage_type: ModelUsageType
    is_active: bool
    config: dict[str, Any]
    system_wide: bool = Field(description="A row for every tenant: read-only here.")
    has_api_key: bool
    created_at: datetime
    updated_at: datetime


class AIModelDetailResponse(AIModelResponse):
    api_key_masked: str | None = Field(
        description="The key's prefix and last 4 characters (sk-…abcd); never the key."
    )
    api_key_note: str | None = None


def mask(key: str) -> str:
    """``sk-…abcd``: a non-secret prefix (up to a first '-' or '_' early in the key) and the
    last 4 characters, only for a key long enough that they give nothing away."""
    if len(key) < 12:
        return "…"
    cut = next((i for i, ch in enumerate(key[:8]) if ch in "-_"), None)
    prefix = key[: cut + 1] if cut is not None else ""
    return f"{prefix}…{key[-4:]}"


def _query() -> sa.Select[Any]:
    return sa.select(
        *_SHOWN,
        _models.c.tenant_id.is_(None).label("system_wide"),
        _models.c.api_key_encrypted.is_not(None).label("has_api_key"),
    )


def _detail(
    request: Request, connection: sa.Connection, model_id: uuid.UUID
) -> AIModelDetailResponse:
    row = connection.execute(_query().where(_models.c.id == model_id)).one_or_none()
    if row is None:
        raise not_found(f"no AI model {model_id} in this tenant; {HOW_TO_FIND}")
    token = connection.execute(
        sa.select(_models.c.api_key_encrypted).where(_models.c.id == model_id)
    ).scalar_one()
    masked, note = None, None
    if token is not None and row.system_wide:
        note = "a system-wide key: set by the operator, not shown to tenants"
    elif token is not None:
        try:
            masked = mask(_box(request).decrypt(token))
        except (UndecryptableSecret, ConfigurationError):
            note = (
                "the stored key cannot be decrypted with AGENTWORKER_ENCRYPTION_KEYS: set it "
                "again with PATCH /v1/ai-models/{id} and an api_key"
            )
    return out(AIModelDetailResponse, row, api_key_masked=masked, api_key_note=note)


def _box(request: Request) -> SecretBox:
    return SecretBox(request.app.state.settings.encryption_keys)


def _encrypted(request: Request, api_key: str) -> bytes:
    try:
        return _box(request).encrypt(api_key)
    except ConfigurationError as error:
        raise Problem(503, "configuration", "Cannot store keys", str(error)) from None


def _own_row(connection: sa.Connection, who: Caller, model_id: uuid.UUID) -> None:
    """The tenant's own row, else 404 (not visible) or 403 (a system-wide row)."""
    row = require_row(connection, _models, model_id, "AI model", HOW_TO_FIND)
    if row.tenant_id != who.tenant_id:
        raise read_only(
            f"AI model {row.name!r} is system-wide and read-only for tenants; create a model "
            "of this tenant (POST /v1/ai-models) to use another configuration"
        )


def router() -> APIRouter:
    routes = APIRouter(prefix="/v1/ai-models", tags=["ai models"])
    reader, admin = caller(Scope.READ), caller(Scope.ADMIN)

    @routes.get("", summary="The tenant's and the system-wide AI models")
    def list_models(paging: PagingParams, who: Caller = reader) -> Page[AIModelResponse]:
        query = _query().order_by(_models.c.tenant_id.is_(None), _models.c.name, _models.c.id)
        with who.transaction() as connection:
            rows = connection.execute(paging.apply(query)).all()
        return Page[AIModelResponse](**paging.page([out(AIModelResponse, r) for r in rows]))

    @routes.get("/{model_id}", summary="An AI model, its API key masked")
    def get_model(
        request: Request, model_id: uuid.UUID, who: Caller = reader
    ) -> AIModelDetailResponse:
        with who.transaction() as connection:
            return _detail(request, connection, model_id)

    @routes.post("", status_code=201, summary="Add an AI model of this tenant (admin)")
    def create_model(
        request: Request, body: AIModelCreate, response: Response, who: Caller = admin
    ) -> AIModelDetailResponse:
        values = body.model_dump(exclude={"api_key"})
        if body.api_key is not None:
            values["api_key_encrypted"] = _encrypted(request, body.api_key)
        with who.transaction() as connection:
            model_id = connection.execute(
                sa.insert(_models).values(tenant_id=who.tenant_id, **values).returning(_models.c.id)
            ).scalar_one()
            who.audit(
                connection,
                "ai_model.created",
                "ai_model",
                model_id,
                {**body.model_dump(exclude={"api_key"}), "api_key_set": body.api_key is not None},
            )
            detail = _detail(request, connection, model_id)
        response.headers["Location"] = f"/v1/ai-models/{model_id}"
        return detail

    @routes.patch("/{model_id}", summary="Change a tenant's AI model (admin)")
    def update_model(
        request: Request, model_id: uuid.UUID, body: AIModelUpdate, who: Caller = admin
    ) -> AIModelDetailResponse:
        values = changed_fields(body, "AI model", "is_active, config, model, base_url, api_key")
        for field in ("is_active", "config", "model", "api_key"):
            if field in values and values[field] is None:
                raise invalid(f"an AI model's {field} cannot be null: send a value or leave it out")
        changes = {k: v for k, v in values.items() if k != "api_key"}
        if "api_key" in values:
            values["api_key_encrypted"] = _encrypted(request, values.pop("api_key"))
            changes["api_key_set"] = True
        with who.transaction() as connection:
            _own_row(connection, who, model_id)
            connection.execute(
                sa.update(_models)
                .where(_models.c.id == model_id, _models.c.tenant_id == who.tenant_id)
                .values(values)
            )
            who.audit(connection, "ai_model.updated", "ai_model", model_id, changes)
            return _detail(request, connection, model_id)

    @routes.delete("/{model_id}", status_code=204, summary="Delete a tenant's AI model (admin)")
    def delete_model(model_id: uuid.UUID, who: Caller = admin) -> Response:
        with who.transaction() as connection:
            _own_row(connection, who, model_id)
            name = connection.execute(
                sa.delete(_models)
                .where(_models.c.id == model_id, _models.c.tenant_id == who.tenant_id)
                .returning(_models.c.name)
            ).scalar_one()
            who.audit(connection, "ai_model.deleted", "ai_model", model_id, {"name": name})
        return Response(status_code=204)

    return routes
