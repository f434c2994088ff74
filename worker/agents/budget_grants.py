"""A run that reaches a budget configured to ask waits for an approver to grant more (issue 16).

A run's budget with ``on_exceeded: "ask"`` (``worker.agents.budgets``), or a tenant whose
``system_settings`` ``budget.on_exceeded`` is ``"ask"`` (``worker.agents.tenant_budgets``), does
not fail at the limit: the run asks for a ``budget_grant`` approval and is parked, holding no
worker. What is asked is fixed in the request, so the approver decides on exactly what will
apply: as much again as the limit that was reached (a run's ``max_llm_calls`` of 5 asks for 5
more calls; a tenant's daily $20 for $20 more today). Approved, the task is woken: a run's
grants raise its own limits (summed from its approved requests, each time it is checked), a
tenant's is added to that period's ``tenant_spend.granted_usd`` in the decision's transaction
(``worker.approvals.outcomes``). Rejected or expired, the run fails ``budget_exceeded``, saying
so. Each request is unique per (run, ``budget:<n>``), so a redelivered task asks once.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, NoReturn

import sqlalchemy as sa

from models import Approval, ApprovalKind, ApprovalStatus
from worker.agents.budgets import BudgetExceeded, RunBudget, with_grants
from worker.agents.parking import park
from worker.agents.run_state import ActiveRun, AwaitingApproval
from worker.agents.tenant_budgets import TenantBudgetExceeded
from worker.approvals.requests import request_approval

__all__ = ["ask_for_more", "granted"]

_approvals = Approval.__table__
_KEY_PREFIX = "budget:"


def _requests(connection: sa.Connection, run: ActiveRun, *, lock: bool = False) -> list[Any]:
    query = (
        sa.select(
            _approvals.c.status,
            _approvals.c.payload,
            _approvals.c.decision_comment,
            _approvals.c.tool_call_id,
        )
        .where(
            _approvals.c.agent_run_id == run.state.id,
            _approvals.c.kind == ApprovalKind.BUDGET_GRANT,
        )
        .order_by(_approvals.c.created_at)
    )
    return list(connection.execute(query.with_for_update() if lock else query))


def granted(run: ActiveRun, budget: RunBudget) -> RunBudget:
    """``budget`` raised by every grant approvers made to this run."""
    with run.runtime.engine.connect() as connection:
        grants = [
            RunBudget.model_validate(row.payload["grant"])
            for row in _requests(connection, run)
            if row.status == ApprovalStatus.APPROVED and row.payload.get("scope") == "run"
        ]
    return with_grants(budget, grants)


def ask_for_more(run: ActiveRun, exceeded: BudgetExceeded | TenantBudgetExceeded) -> NoReturn:
    """Park ``run`` until an approver grants more than the limit ``exceeded`` reports (asking,
    unless a request is pending already); raise ``exceeded`` if the last request was refused."""
    scope, grant, title = _what_to_ask(run, exceeded)
    with run.runtime.engine.begin() as connection:
        requests = _requests(connection, run, lock=True)
        latest = requests[-1] if requests else None
        if latest is not None and latest.status not in (
            ApprovalStatus.PENDING,
            ApprovalStatus.APPROVED,
        ):
            why = f": {latest.decision_comment}" if latest.decision_comment else ""
            raise type(exceeded)(
                f"{exceeded} (an approver was asked for more and the request was "
                f"{latest.status}{why})",
                details={**exceeded.details, "grant_request": str(latest.status)},
            ) from exceeded
        if latest is None or latest.status == ApprovalStatus.APPROVED:
            request_approval(
                connection,
                tenant_id=run.task.tenant_id,
                kind=ApprovalKind.BUDGET_GRANT,
                title=title,
                description=str(exceeded),
                payload={
                    "scope": scope,
                    "grant": grant,
                    "limit": exceeded.details["limit"],
                    "spent": exceeded.details["spent"],
                    "task_id": str(run.task.id),
                    **_period_of(exceeded),
                },
                scope=run.scope,
                tool_call_id=f"{_KEY_PREFIX}{len(requests) + 1}",
                requested_by=f"agent {run.agent.name}",
            )
        park(connection, run, "grant more budget")
    raise AwaitingApproval()


def _what_to_ask(
    run: ActiveRun, exceeded: BudgetExceeded | TenantBudgetExceeded
) -> tuple[str, dict[str, Any], str]:
    """(scope, grant, title): as much again as the limit reached."""
    details = exceeded.details
    if isinstance(exceeded, TenantBudgetExceeded):
        amount = details["budget_usd"]
        return (
            "tenant",
            {"usd": amount},
            f"Grant ${amount} more to the tenant's {details['period']} LLM budget "
            f"(agent '{run.agent.name}' is waiting)?",
        )
    name = details["limit"]
    limit = details["budget"][name]
    value: int | str = str(Decimal(limit)) if name == "max_cost_usd" else int(limit)
    what = {"max_llm_calls": "LLM calls", "max_tokens_total": "tokens", "max_cost_usd": "dollars"}
    return (
        "run",
        {name: value},
        f"Let agent '{run.agent.name}' spend {value} more {what[name]} on this run?",
    )


def _period_of(exceeded: BudgetExceeded | TenantBudgetExceeded) -> dict[str, Any]:
    if not isinstance(exceeded, TenantBudgetExceeded):
        return {}
    return {
        "period": exceeded.details["period"],
        "period_start": exceeded.details["period_start"],
    }
