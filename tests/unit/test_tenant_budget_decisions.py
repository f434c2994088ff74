"""Admitting a call under a tenant's budget (worker.agents.tenant_budgets.decide), as a pure
function of the periods' spend, the call's estimate and the calls in flight."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from models import SpendPeriod
from worker.agents.tenant_budgets import Admit, PeriodSpend, Refuse, Wait, decide


def _day(spent: str, limit: str | None, granted: str = "0") -> PeriodSpend:
    return PeriodSpend(
        SpendPeriod.DAY,
        date(2026, 12, 3),
        Decimal(spent),
        3,
        Decimal(granted),
        None if limit is None else Decimal(limit),
    )


def test_a_period_spent_to_its_limit_admits_nothing() -> None:
    assert decide([_day("10", "10")], Decimal("1"), 0, Decimal(0)) == Refuse(_day("10", "10"))


def test_a_grant_raises_the_limit() -> None:
    assert decide([_day("10", "10", granted="5")], Decimal("1"), 0, Decimal(0)) == Admit(
        Decimal("1")
    )


def test_alone_a_call_below_the_limit_starts_even_if_it_may_cross_it() -> None:
    assert decide([_day("9.5", "10")], Decimal("3"), 0, Decimal(0)) == Admit(Decimal("3"))


def test_beside_calls_in_flight_a_call_starts_only_if_all_of_them_fit() -> None:
    assert decide([_day("5", "10")], Decimal("2"), 2, Decimal("3")) == Admit(Decimal("2"))
    assert decide([_day("5", "10")], Decimal("2"), 2, Decimal("3.01")) == Wait()


def test_no_limit_in_a_period_leaves_it_out() -> None:
    month = PeriodSpend(SpendPeriod.MONTH, date(2026, 12, 1), Decimal(99), 9, Decimal(0), None)
    assert decide([_day("1", "10"), month], Decimal("1"), 4, Decimal("4")) == Admit(Decimal("1"))
