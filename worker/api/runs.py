"""``/v1/runs``: an agent run's numbered steps, a fork of it from a step and a replay of a
failed one; ``POST /v1/executions/{id}/fork`` re-runs a workflow execution from a step
(``worker.agents.forks``, ``worker.workflows.forks``). The tenant is the key's: another
tenant's run or execution is "not found", exactly as a missing one is."""

from __future__ import annotations

import dataclasses
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from models.tenant_scope import tenant_scope
from worker.api.auth import require
from worker.api.problems import Problem, conflict, invalid, not_found
from worker.client import AgentWorkerClient
from worker.core.errors import AgentWorkerError
from worker.security.principals import Principal, Scope

_NOT_FOUND = {"run_not_found", "execution_not_found"}
_CONFLICT = {"run_in_progress", "execution_in_progress", "run_not_failed"}


class RunFork(BaseModel):
    """Fork a run after step ``at_step``, optionally editing messages of the copy."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    at_step: int = Field(ge=0, description="Step 0 is the prompt and input; step N the N-th reply.")
    edit_message: dict[str, Any] | list[dict[str, Any]] | None = Field(
        default=None,
        description='{"content": "…"} (the last message at the fork point), '
        '{"seq": N, "content": "…"} (message N), or a list of those.',
    )


class ExecutionFork(BaseModel):
    """Re-run an execution from step ``at``: its number from 1 or its key."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    at: int | str


def _engine(request: Request) -> sa.Engine:
    return request.app.state.engine


def _client(request: Request, principal: Principal) -> AgentWorkerClient:
    state = request.app.state
    return AgentWorkerClient(
        state.engine, state.publisher, state.settings, tenant=str(principal.tenant_id)
    )


def _refused(error: AgentWorkerError) -> Problem:
    if error.code in _NOT_FOUND:
        return not_found(f"{error}")
    if error.code in _CONFLICT:
        return conflict(error.code, "Cannot fork now", f"{error}")
    return invalid(f"{error}")


def _created(forked: Any, location: str) -> JSONResponse:
    return JSONResponse(
        jsonable_encoder(dataclasses.asdict(forked)),
        status_code=201,
        headers={"Location": location},
    )


def router() -> APIRouter:
    routes = APIRouter(tags=["runs"])
    submitter = Depends(require(_engine, Scope.SUBMIT))
    reader = Depends(require(_engine, Scope.READ))

    @routes.get("/v1/runs/{run_id}", summary="A run's numbered steps")
    def get_run(request: Request, run_id: str, principal: Principal = reader) -> Any:
        """The run with its conversation split into steps, numbered as a fork counts them."""
        with tenant_scope(principal.tenant_id, user_id=principal.user_id):
            try:
                found = _client(request, principal).run_steps(run_id)
            except AgentWorkerError as error:
                raise _refused(error) from None
        steps = [{**dataclasses.asdict(s), "complete": s.complete} for s in found.steps]
        return jsonable_encoder({**dataclasses.asdict(found), "steps": steps})

    @routes.post("/v1/runs/{run_id}/fork", status_code=201, summary="Fork a run from a step")
    def fork_run(
        request: Request, run_id: str, body: RunFork, principal: Principal = submitter
    ) -> JSONResponse:
        """A new task and run whose conversation is this run's up to ``at_step`` (edited as
        asked); no model call up to that step is made again. The run must have ended."""
        with tenant_scope(principal.tenant_id, user_id=principal.user_id):
            try:
                forked = _client(request, principal).fork_run(
                    run_id, at_step=body.at_step, edit_message=body.edit_message
                )
            except AgentWorkerError as error:
                raise _refused(error) from None
        return _created(forked, f"/v1/runs/{forked.run_id}")

    @routes.post("/v1/runs/{run_id}/replay", status_code=201, summary="Replay a failed run")
    def replay_run(request: Request, run_id: str, principal: Principal = submitter) -> JSONResponse:
        """A new task and run that re-runs this FAILED run from its last good step."""
        with tenant_scope(principal.tenant_id, user_id=principal.user_id):
            try:
                forked = _client(request, principal).replay_run(run_id)
            except AgentWorkerError as error:
                raise _refused(error) from None
        return _created(forked, f"/v1/runs/{forked.run_id}")

    @routes.post(
        "/v1/executions/{execution_id}/fork",
        status_code=201,
        summary="Re-run an execution from a step",
        tags=["executions"],
    )
    def fork_execution(
        request: Request, execution_id: str, body: ExecutionFork, principal: Principal = submitter
    ) -> JSONResponse:
        """A new execution from step ``at`` with the earlier steps' outputs copied."""
        with tenant_scope(principal.tenant_id, user_id=principal.user_id):
            try:
                forked = _client(request, principal).fork_execution(execution_id, at=str(body.at))
            except AgentWorkerError as error:
                raise _refused(error) from None
        return _created(forked, f"/v1/executions/{forked.execution_id}")

    return routes
