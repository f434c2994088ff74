"""``/v1/executions``: start a workflow (the ``workflows.start`` contract, the tenant taken from
the key), read, cancel, list and follow an execution's events (its own and its steps' tasks').
Every route's database work runs in the key's tenant scope, so another tenant's execution is
"not found", exactly as a missing one is."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Body, Depends, Header, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from models.tenant_scope import tenant_scope
from worker.api import streams
from worker.api.auth import require
from worker.api.problems import invalid, not_found
from worker.client import AgentWorkerClient, ExecutionView, TaskNotFound, start_request
from worker.core.contract import StartWorkflowRequest, describe_validation_error
from worker.core.errors import AgentWorkerError
from worker.security.principals import Principal, Scope
from worker.workflows.cancellation import NothingToCancel
from worker.workflows.catalog import ExecutionNotFound

_FROM_THE_KEY = ("tenant", "auth")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


#: The ``workflows.start`` v1 contract without ``tenant`` and ``auth``.
ExecutionStart: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "ExecutionStart",
    __base__=_Body,
    __doc__="The workflows.start v1 contract; the tenant is the API key's.",
    **{
        name: (field.annotation, field)
        for name, field in StartWorkflowRequest.model_fields.items()
        if name not in _FROM_THE_KEY
    },
)


def _engine(request: Request) -> sa.Engine:
    return request.app.state.engine


def _client(request: Request, principal: Principal) -> AgentWorkerClient:
    state = request.app.state
    return AgentWorkerClient(
        state.engine, state.publisher, state.settings, tenant=str(principal.tenant_id)
    )


def _body(view: ExecutionView) -> dict[str, Any]:
    return jsonable_encoder({**dataclasses.asdict(view), "done": view.done})


def _parse(body: Any, principal: Principal, idempotency_key: str | None) -> StartWorkflowRequest:
    if not isinstance(body, dict):
        raise invalid("the body must be a JSON object (the workflows.start contract)")
    try:
        start = ExecutionStart.model_validate(body)
    except ValidationError as error:
        raise invalid(
            f"{describe_validation_error(error, 'body')}; see /openapi.json (ExecutionStart)"
        ) from None
    fields = start.model_dump(exclude_unset=True)
    if idempotency_key is not None:
        sent = fields.get("idempotency_key")
        if sent is not None and sent != idempotency_key:
            raise invalid(
                "the Idempotency-Key header and the body's idempotency_key differ: send one"
            )
        fields["idempotency_key"] = idempotency_key
    try:
        return StartWorkflowRequest.model_validate({**fields, "tenant": str(principal.tenant_id)})
    except ValidationError as error:
        raise invalid(describe_validation_error(error, "body")) from None


def _refused(error: AgentWorkerError) -> Exception:
    if isinstance(error, (TaskNotFound, NothingToCancel, ExecutionNotFound)):
        return not_found(f"{error}: check the id (a workflow execution of this key's tenant)")
    return invalid(f"{error}")


def router() -> APIRouter:
    routes = APIRouter(prefix="/v1/executions", tags=["executions"])
    submitter = Depends(require(_engine, Scope.SUBMIT))
    reader = Depends(require(_engine, Scope.READ))

    @routes.post(
        "",
        status_code=201,
        summary="Start a workflow execution",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": ExecutionStart.model_json_schema()}},
            }
        },
        responses={200: {"description": "An execution with this Idempotency-Key already exists"}},
    )
    def start_execution(
        request: Request,
        body: Annotated[Any, Body()],
        principal: Principal = submitter,
        idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
    ) -> JSONResponse:
        """Commit the execution row, then publish only its id (``workflows.advance``); a
        repeated Idempotency-Key returns the first execution (200) and publishes nothing."""
        parsed = _parse(body, principal, idempotency_key)
        client = _client(request, principal)
        with tenant_scope(principal.tenant_id, user_id=principal.user_id):
            try:
                started = start_request(client.engine, client.publisher, client.settings, parsed)
                body_out = _body(client.get_execution(started.execution_id))
            except AgentWorkerError as error:
                raise _refused(error) from None
        return JSONResponse(
            {**body_out, "created": started.created},
            status_code=201 if started.created else 200,
            headers={"Location": f"/v1/executions/{started.execution_id}"},
        )

    @routes.get("/{execution_id}", summary="Read a workflow execution")
    def get_execution(
        request: Request, execution_id: str, principal: Principal = reader
    ) -> dict[str, Any]:
        with tenant_scope(principal.tenant_id, user_id=principal.user_id):
            try:
                return _body(_client(request, principal).get_execution(execution_id))
            except AgentWorkerError as error:
                raise _refused(error) from None

    @routes.post("/{execution_id}/cancel", summary="Cancel a workflow execution")
    def cancel_execution(
        request: Request, execution_id: str, principal: Principal = submitter
    ) -> dict[str, Any]:
        """Cancel the execution and its running steps (idempotent: ``changed`` is false when
        it had already ended)."""
        client = _client(request, principal)
        with tenant_scope(principal.tenant_id, user_id=principal.user_id):
            try:
                client.get_execution(execution_id)  # an execution, not a task
                cancelled = client.cancel(
                    execution_id, reason=f"cancelled through the API by {principal.label}"
                )
                body_out = _body(client.get_execution(execution_id))
            except AgentWorkerError as error:
                raise _refused(error) from None
        return {**body_out, "changed": cancelled.changed}

    @routes.get("/{execution_id}/events", summary="An execution's events after an id")
    def execution_events(
        request: Request,
        execution_id: str,
        after: streams.AfterEvent = 0,
        principal: Principal = reader,
    ) -> dict[str, Any]:
        """The execution's own events and its steps' tasks' events, in commit-safe order (ids
        are unique, not always increasing: go on with the last one you received)."""
        client = _client(request, principal)
        with tenant_scope(principal.tenant_id, user_id=principal.user_id):
            try:
                client.get_execution(execution_id)
                page = client.event_page(execution_id, after=after)
            except AgentWorkerError as error:
                raise _refused(error) from None
        return streams.events_body(page)

    @routes.get(
        "/{execution_id}/events/stream",
        summary="Follow an execution's events (Server-Sent Events)",
        response_class=StreamingResponse,
        responses=streams.RESPONSES,
    )
    async def execution_event_stream(
        request: Request,
        execution_id: str,
        after: streams.StreamAfter = None,
        last_event_id: streams.LastEventId = None,
        principal: Principal = reader,
    ) -> StreamingResponse:
        """The execution's events (its own and its steps') after ``Last-Event-ID`` (or
        ``after``) as they are written; an ``end`` event and the stream closes once the
        execution is final."""
        client = _client(request, principal)
        return await streams.follow(
            request,
            principal,
            client,
            "execution",
            lambda: client.get_execution(execution_id),
            streams.execution_feed,
            streams.resume_position(last_event_id, after),
            _refused,
        )

    return routes
