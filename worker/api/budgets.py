"""``GET /v1/budget``: the key's tenant's LLM spend today and this month against its budget
(``worker.agents.tenant_budgets``). A run's own spend against its budget is in
``GET /v1/runs/{id}`` (``spend``)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request

from models.tenant_scope import tenant_scope
from worker.api.auth import require
from worker.api.problems import invalid
from worker.security.principals import Principal, Scope


def _engine(request: Request) -> sa.Engine:
    return request.app.state.engine


def router() -> APIRouter:
    routes = APIRouter(tags=["budgets"])
    reader = Depends(require(_engine, Scope.READ))

    @routes.get("/v1/budget", summary="The tenant's spend against its budget")
    def get_budget(request: Request, principal: Principal = reader) -> Any:
        """Per UTC day and month: spent, LLM calls, the limit (null: none), approvers' grants
        and what remains; and whether a run at a limit fails or asks for more."""
        from worker.agents.tenant_budgets import TenantBudgetError, spend_of, tenant_limits

        tenant_id = principal.tenant_id
        if tenant_id is None:
            raise invalid("a tenant's budget is read with one of that tenant's API keys")
        with (
            tenant_scope(principal.tenant_id, user_id=principal.user_id),
            _engine(request).begin() as connection,
        ):
            try:
                periods = spend_of(connection, tenant_id)
                limits = tenant_limits(connection, tenant_id)
            except TenantBudgetError as error:
                raise invalid(str(error)) from None
        return {
            "tenant_id": str(tenant_id),
            "on_exceeded": "ask" if limits.ask else "fail",
            "periods": [period.as_json() for period in periods],
        }

    return routes
