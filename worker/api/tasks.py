"""``/v1/tasks``: submit (the ``agents.run_task`` contract, the tenant taken from the key),
read, cancel and list a task's events. Every route's database work runs in the key's tenant
scope, so another tenant's task is "not found", exactly as a missing one is."""

from __future__ import annotations

import dataclasses
import uuid
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
from worker.client import AgentWorkerClient, TaskNotFound, submit_request
from worker.core.contract import RunTaskRequest, describe_validation_error
from worker.core.errors import AgentWorkerError
from worker.security.principals import Principal, Scope
from worker.workflows.cancellation import NothingToCancel

#: Fields of the contract a caller does not send: the key says whose task it is and proves it.
_FROM_THE_KEY = ("tenant", "auth")


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


#: The ``agents.run_task`` v1 contract without ``tenant`` and ``auth``.
TaskSubmission: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "TaskSubmission",
    __base__=_Body,
    __doc__="The agents.run_task v1 contract; the tenant is the API key's.",
    **{
        name: (field.annotation, field)
        for name, field in RunTaskRequest.model_fields.items()
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


def _task_body(client: AgentWorkerClient, task_id: uuid.UUID | str) -> dict[str, Any]:
    view = client.get_task(task_id)
    return jsonable_encoder({**dataclasses.asdict(view), "done": view.done})


def _parse(body: Any, principal: Principal, idempotency_key: str | None) -> RunTaskRequest:
    if not isinstance(body, dict):
        raise invalid("the body must be a JSON object (the agents.run_task contract)")
    try:
        submission = TaskSubmission.model_validate(body)
    except ValidationError as error:
        raise invalid(
            f"{describe_validation_error(error, 'body')}; see /openapi.json (TaskSubmission)"
        ) from None
    fields = submission.model_dump(exclude_unset=True)
    if idempotency_key is not None:
        sent = fields.get("idempotency_key")
        if sent is not None and sent != idempotency_key:
            raise invalid(
                "the Idempotency-Key header and the body's idempotency_key differ: send one"
            )
        fields["idempotency_key"] = idempotency_key
    try:
        return RunTaskRequest.model_validate({**fields, "tenant": str(principal.tenant_id)})
    except ValidationError as error:
        raise invalid(describe_validation_error(error, "body")) from None


def _refused(error: AgentWorkerError) -> Exception:
    if isinstance(error, (TaskNotFound, NothingToCancel)):
        return not_found(f"{error}: check the id (a task of this key's tenant)")
    return invalid(f"{error}")


def router() -> APIRouter:
    routes = APIRouter(prefix="/v1/tasks", tags=["tasks"])
    submitter = Depends(require(_engine, Scope.SUBMIT))
    reader = Depends(require(_engine, Scope.READ))

    @routes.post(
        "",
        status_code=201,
        summary="Submit a task",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": TaskSubmission.model_json_schema()}},
            }
        },
        responses={200: {"description": "A task with this Idempotency-Key already exists"}},
    )
    def submit_task(
        request: Request,
        body: Annotated[Any, Body()],
        principal: Principal = submitter,
        idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
    ) -> JSONResponse:
        """Commit the task row, then publish only its id; a repeated Idempotency-Key returns
        the first task (200) and publishes nothing. ``held``: the task waits behind its
        tenant's tasks in flight (fair dispatch) and is released as they finish."""
        parsed = _parse(body, principal, idempotency_key)
        client = _client(request, principal)
        with tenant_scope(principal.tenant_id, user_id=principal.user_id):
            try:
                submitted = submit_request(
                    client.engine,
                    client.publisher,
                    client.settings,
                    parsed,
                    channel="api",
                    trace_carrier=request.headers,
                )
            except AgentWorkerError as error:
                raise _refused(error) from None
            body_out = _task_body(client, submitted.task_id)
        return JSONResponse(
            {**body_out, "created": submitted.created, "held": not submitted.released},
            status_code=201 if submitted.created else 200,
            headers={"Location": f"/v1/tasks/{submitted.task_id}"},
        )

    @routes.get("/{task_id}", summary="Read a task")
    def get_task(request: Request, task_id: str, principal: Principal = reader) -> dict[str, Any]:
        with tenant_scope(principal.tenant_id, user_id=principal.user_id):
            try:
                return _task_body(_client(request, principal), task_id)
            except AgentWorkerError as error:
                raise _refused(error) from None

    @routes.post("/{task_id}/cancel", summary="Cancel a task")
    def cancel_task(
        request: Request, task_id: str, principal: Principal = submitter
    ) -> dict[str, Any]:
        """Cancel the task (idempotent: ``changed`` is false when it had already ended)."""
        client = _client(request, principal)
        with tenant_scope(principal.tenant_id, user_id=principal.user_id):
            try:
                client.get_task(task_id)  # a task, not a workflow execution
                cancelled = client.cancel(
                    task_id, reason=f"cancelled through the API by {principal.label}"
                )
                body_out = _task_body(client, task_id)
            except AgentWorkerError as error:
                raise _refused(error) from None
        return {**body_out, "changed": cancelled.changed}

    @routes.get("/{task_id}/events", summary="A task's events after an id")
    def task_events(
        request: Request,
        task_id: str,
        after: streams.AfterEvent = 0,
        principal: Principal = reader,
    ) -> dict[str, Any]:
        client = _client(request, principal)
        with tenant_scope(principal.tenant_id, user_id=principal.user_id):
            try:
                client.get_task(task_id)
                page = client.event_page(task_id, after=after)
            except AgentWorkerError as error:
                raise _refused(error) from None
        return streams.events_body(page)

    @routes.get(
        "/{task_id}/events/stream",
        summary="Follow a task's events (Server-Sent Events)",
        response_class=StreamingResponse,
        responses=streams.RESPONSES,
    )
    async def task_event_stream(
        request: Request,
        task_id: str,
        after: streams.StreamAfter = None,
        last_event_id: streams.LastEventId = None,
        principal: Principal = reader,
    ) -> StreamingResponse:
        """The task's events after ``Last-Event-ID`` (or ``after``) as they are written; an
        ``end`` event and the stream closes once the task is final."""
        client = _client(request, principal)
        return await streams.follow(
            request,
            principal,
            client,
            "task",
            lambda: client.get_task(task_id),
            streams.task_feed,
            streams.resume_position(last_event_id, after),
            _refused,
        )

    return routes
