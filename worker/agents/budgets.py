"""A run's budget: how many LLM calls, tokens and dollars one run may spend (issue 16).

Set in the agent's configuration (``ai_agents.configuration.budget``) and with a submission
(``agents.run_task``'s ``budget``, kept in the task's ``input_payload``); where both set a
limit, the stricter holds, so a caller can narrow an agent's budget but never widen it. The
run's own counters
(``agent_runs.llm_calls``, ``prompt_tokens + completion_tokens``, ``cost``, carried across its
attempts) are checked before every LLM call: a run is driven by one lease holder at a time, so
the check is exact, and no call starts once a limit is reached. The call that crosses a limit
is the last one made: a run's spend ends at most one call's cost above its limit. Past a limit
the run fails ``budget_exceeded``, its message saying what was spent, which limit stopped it
and where to raise it.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from worker.core.contract import RunBudget
from worker.core.errors import AgentWorkerError

__all__ = [
    "BudgetExceeded",
    "RunBudget",
    "Spend",
    "check_budget",
    "effective_budget",
    "spend_report",
    "with_grants",
]


class BudgetExceeded(AgentWorkerError):
    code = "budget_exceeded"

    def __init__(self, message: str, *, details: dict[str, Any]) -> None:
        super().__init__(message)
        #: The figures, for the failure's event: the limit reached, the budget, the spend.
        self.details = details


@dataclass
class Spend:
    """What a run has spent so far, over all its attempts."""

    llm_calls: int = 0
    tokens: int = 0
    cost: Decimal = Decimal(0)

    def add(self, *, llm_calls: int, tokens: int, cost: Decimal) -> None:
        self.llm_calls += llm_calls
        self.tokens += tokens
        self.cost += cost


def effective_budget(agent: RunBudget | None, submitted: Any) -> RunBudget | None:
    """The stricter of each limit of the agent's budget and the submission's (as stored)."""
    given = None if submitted is None else RunBudget.model_validate(submitted)
    if agent is None or given is None:
        return agent or given

    def stricter(a: Any, b: Any) -> Any:
        return b if a is None else a if b is None else min(a, b)

    asked = {agent.on_exceeded, given.on_exceeded}
    return RunBudget(
        max_llm_calls=stricter(agent.max_llm_calls, given.max_llm_calls),
        max_tokens_total=stricter(agent.max_tokens_total, given.max_tokens_total),
        max_cost_usd=stricter(agent.max_cost_usd, given.max_cost_usd),
        # Failing is the stricter: either side saying "fail" holds.
        on_exceeded="fail" if "fail" in asked else "ask" if "ask" in asked else None,
    )


def with_grants(budget: RunBudget, grants: list[RunBudget]) -> RunBudget:
    """``budget`` raised by what approvers granted: each grant adds to the limits it names."""

    def raised(limit: Any, name: str) -> Any:
        added = [getattr(grant, name) for grant in grants if getattr(grant, name) is not None]
        return limit if limit is None or not added else limit + sum(added)

    return budget.model_copy(
        update={
            name: raised(getattr(budget, name), name)
            for name in ("max_llm_calls", "max_tokens_total", "max_cost_usd")
        }
    )


def check_budget(budget: RunBudget | None, spend: Spend) -> None:
    """Raise ``BudgetExceeded`` if ``spend`` has reached a limit of ``budget`` (call it before
    each LLM call)."""
    if budget is None:
        return
    reached = [
        (name, _plain(used), _plain(limit))
        for name, used, limit in (
            ("max_llm_calls", spend.llm_calls, budget.max_llm_calls),
            ("max_tokens_total", spend.tokens, budget.max_tokens_total),
            ("max_cost_usd", spend.cost, budget.max_cost_usd),
        )
        if limit is not None and used >= limit
    ]
    if reached:
        name, used, limit = reached[0]
        details = {
            "limit": name,
            "budget": {
                key: _plain(value) if isinstance(value, Decimal) else value
                for key, value in budget.model_dump(exclude_none=True).items()
            },
            "spent": {
                "llm_calls": spend.llm_calls,
                "tokens": spend.tokens,
                "cost_usd": _plain(spend.cost),
            },
        }
        raise BudgetExceeded(
            f"the run's budget is spent: {name} is {limit} and the run has used {used} "
            f"({spend.llm_calls} LLM calls, {spend.tokens} tokens, ${_plain(spend.cost)} so far); "
            "raise "
            f"configuration.budget.{name} of the agent (or the submission's budget.{name}) to "
            "let such runs go further",
            details=details,
        )


def spend_report(budget: RunBudget | None, spend: Spend) -> dict[str, Any]:
    """A run's spend against its budget, as the CLI and the API show it."""
    spent = {"llm_calls": spend.llm_calls, "tokens": spend.tokens, "cost_usd": _plain(spend.cost)}
    if budget is None:
        return {"spent": spent, "budget": None, "remaining": None}
    remaining: dict[str, Any] = {}
    for name, used in (
        ("max_llm_calls", spend.llm_calls),
        ("max_tokens_total", spend.tokens),
        ("max_cost_usd", spend.cost),
    ):
        limit = getattr(budget, name)
        if limit is not None:
            left = max(limit - used, 0)
            remaining[name] = _plain(left) if isinstance(left, Decimal) else left
    shown = {
        key: _plain(value) if isinstance(value, Decimal) else value
        for key, value in budget.model_dump(exclude_none=True).items()
    }
    return {"spent": spent, "budget": shown, "remaining": remaining}


def _plain(value: int | Decimal) -> str:
    """A figure as a person reads it: 0.0000001, not 1E-7."""
    return format(value, "f") if isinstance(value, Decimal) else str(value)
