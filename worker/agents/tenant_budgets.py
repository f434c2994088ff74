"""A tenant's budget per UTC day and month (issue 16): no LLM call of a run starts once the
tenant's spend in either period has reached its limit, kept exact under concurrency.

The limits are ``system_settings`` ``budget.daily_usd`` and ``budget.monthly_usd`` (a tenant's
row wins over the system-wide one; none: no limit), plus what approvers granted for the
period (``worker.agents.budget_grants``). Before each call of a budgeted tenant, ``admit``
locks the tenant's ``tenant_spend`` rows of the day and the month (``SELECT … FOR UPDATE``, one
short transaction) and admits the call only if it fits:

- a period whose spend has reached its limit admits nothing (``TenantBudgetExceeded``);
- with no call of the tenant in flight, a call is admitted while the spend is below the limit;
- with calls in flight, a call is admitted only if the spend, the in-flight calls' estimates
  and its own all fit under the limit; otherwise it waits for those calls to settle. A call's
  estimate is what it would cost at the most: its prompt (about four characters a token) and
  its whole ``max_tokens`` (1,024 when unset) at the model's prices. So calls run side by
  side while the budget is far, one at a time close to it.

An admitted call leaves a ``spend_reservations`` row, which ``settle`` replaces with what the
call cost (or ``release`` deletes if it failed). So a tenant's spend ends at most one call's
cost above a limit: the one call admitted alone below it.
A reservation expires with its run's deadline: a worker that died mid-call blocks nobody, and
the call it made then goes uncounted (its run counts it, if its step was written).

A tenant with no limit pays one cached lookup per call and no round trip.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from models import AgentRun, SpendPeriod, SpendReservation, SystemSetting, TenantSpend
from worker.core.errors import AgentWorkerError

__all__ = [
    "DAILY_KEY",
    "MONTHLY_KEY",
    "ON_EXCEEDED_KEY",
    "Admit",
    "PeriodSpend",
    "Refuse",
    "TenantBudgetError",
    "TenantBudgetExceeded",
    "TenantLimits",
    "Wait",
    "admit",
    "decide",
    "release",
    "save_limits",
    "settle",
    "spend_of",
    "tenant_limits",
]

DAILY_KEY = "budget.daily_usd"
MONTHLY_KEY = "budget.monthly_usd"
#: ``"fail"`` (the default) or ``"ask"``: what a run does when the tenant's budget is spent.
ON_EXCEEDED_KEY = "budget.on_exceeded"
_KEY_OF = {SpendPeriod.DAY: DAILY_KEY, SpendPeriod.MONTH: MONTHLY_KEY}

_spend = TenantSpend.__table__
_reservations = SpendReservation.__table__
_settings = SystemSetting.__table__
_runs = AgentRun.__table__

#: How long a call waits between two admissions refused for calls in flight (doubling).
_FIRST_WAIT_SECONDS = 0.02
_LONGEST_WAIT_SECONDS = 0.5


class TenantBudgetError(AgentWorkerError):
    """A budget setting that cannot be read; the message names the row and what to write."""

    code = "invalid_budget_setting"


class TenantBudgetExceeded(AgentWorkerError):
    code = "budget_exceeded"

    def __init__(self, message: str, *, details: dict[str, Any]) -> None:
        super().__init__(message)
        #: The figures, for the failure's event: the period, its limit and the spend.
        self.details = details


@dataclass(frozen=True)
class TenantLimits:
    """A tenant's configured limits in dollars (None: none for that period), and whether a run
    that reaches one asks an approver for more instead of failing."""

    daily_usd: Decimal | None = None
    monthly_usd: Decimal | None = None
    ask: bool = False

    def of(self, period: SpendPeriod) -> Decimal | None:
        return self.daily_usd if period == SpendPeriod.DAY else self.monthly_usd

    @property
    def any(self) -> bool:
        return self.daily_usd is not None or self.monthly_usd is not None


@dataclass(frozen=True)
class PeriodSpend:
    """What a tenant spent in one period, against what it may."""

    period: SpendPeriod
    period_start: date
    spent_usd: Decimal
    llm_calls: int
    granted_usd: Decimal
    #: The configured limit (None: none), and with the grants, what the tenant may spend.
    limit_usd: Decimal | None

    @property
    def allowed_usd(self) -> Decimal | None:
        return None if self.limit_usd is None else self.limit_usd + self.granted_usd

    def as_json(self) -> dict[str, Any]:
        allowed = self.allowed_usd
        return {
            "period": self.period.value,
            "period_start": self.period_start.isoformat(),
            "spent_usd": _plain(self.spent_usd),
            "llm_calls": self.llm_calls,
            "limit_usd": None if self.limit_usd is None else _plain(self.limit_usd),
            "granted_usd": _plain(self.granted_usd),
            "remaining_usd": None
            if allowed is None
            else _plain(max(allowed - self.spent_usd, Decimal(0))),
        }


# -- the decision (pure) -----------------------------------------------------------------------


@dataclass(frozen=True)
class Admit:
    estimate: Decimal


@dataclass(frozen=True)
class Wait:
    pass


@dataclass(frozen=True)
class Refuse:
    spend: PeriodSpend


def decide(
    periods: list[PeriodSpend], estimate: Decimal, in_flight: int, reserved: Decimal
) -> Admit | Refuse | Wait:
    """Whether one more call, costing ``estimate`` at the most, may start, given each period's
    spend and limit and the tenant's calls in flight (``in_flight`` of them, estimated at
    ``reserved`` dollars in all)."""
    for spend in periods:
        allowed = spend.allowed_usd
        if allowed is not None and spend.spent_usd >= allowed:
            return Refuse(spend)
    if in_flight == 0:
        return Admit(estimate)
    fits = all(
        p.allowed_usd is None or p.spent_usd + reserved + estimate <= p.allowed_usd for p in periods
    )
    return Admit(estimate) if fits else Wait()


# -- limits ------------------------------------------------------------------------------------


def tenant_limits(connection: sa.Connection, tenant_id: uuid.UUID) -> TenantLimits:
    """``tenant_id``'s limits: its own ``system_settings`` rows, else the system-wide ones."""
    rows = connection.execute(
        sa.select(_settings.c.key, _settings.c.value, _settings.c.tenant_id)
        .where(
            _settings.c.key.in_([DAILY_KEY, MONTHLY_KEY, ON_EXCEEDED_KEY]),
            sa.or_(_settings.c.tenant_id == tenant_id, _settings.c.tenant_id.is_(None)),
        )
        # System-wide first, so the tenant's own row is applied last and wins.
        .order_by(_settings.c.tenant_id.is_not(None))
    ).all()
    values: dict[str, Any] = {}
    for key, value, owner in rows:
        values[key] = (value, "system-wide" if owner is None else f"tenant {owner}")
    return TenantLimits(
        daily_usd=_dollars(DAILY_KEY, values.get(DAILY_KEY)),
        monthly_usd=_dollars(MONTHLY_KEY, values.get(MONTHLY_KEY)),
        ask=_on_exceeded(values.get(ON_EXCEEDED_KEY)),
    )


def _dollars(key: str, entry: tuple[Any, str] | None) -> Decimal | None:
    if entry is None or entry[0] is None:
        return None
    value, owner = entry
    try:
        dollars = Decimal(str(value)) if not isinstance(value, bool) else None
    except InvalidOperation:
        dollars = None
    if dollars is None or not dollars.is_finite() or dollars <= 0:
        raise TenantBudgetError(
            f"system_settings {key!r} ({owner}) is {value!r}; write a positive number of "
            'dollars (e.g. 25 or "12.50"), or delete the row for no limit'
        )
    return dollars


def _on_exceeded(entry: tuple[Any, str] | None) -> bool:
    if entry is None or entry[0] in (None, "fail"):
        return False
    if entry[0] == "ask":
        return True
    raise TenantBudgetError(
        f'system_settings {ON_EXCEEDED_KEY!r} ({entry[1]}) is {entry[0]!r}; write "fail" (a '
        'run that reaches the budget fails) or "ask" (it waits for an approver to grant more)'
    )


def save_limits(
    connection: sa.Connection,
    tenant_id: uuid.UUID,
    changes: dict[str, Any],
) -> TenantLimits:
    """Write ``tenant_id``'s own budget rows: ``changes`` maps a key (``DAILY_KEY``,
    ``MONTHLY_KEY``, ``ON_EXCEEDED_KEY``) to its value, None deleting the tenant's row. Each
    value is checked as the workers read it; the limits as they now apply."""
    for key, value in changes.items():
        if key not in (DAILY_KEY, MONTHLY_KEY, ON_EXCEEDED_KEY):
            raise TenantBudgetError(f"no budget setting {key!r}")
        if value is not None:
            where = (value, f"tenant {tenant_id}")
            _on_exceeded(where) if key == ON_EXCEEDED_KEY else _dollars(key, where)
        connection.execute(
            sa.delete(_settings).where(_settings.c.tenant_id == tenant_id, _settings.c.key == key)
        )
        if value is not None:
            connection.execute(
                sa.insert(_settings).values(
                    tenant_id=tenant_id,
                    key=key,
                    value=value,
                    description="the tenant's LLM budget (worker.agents.tenant_budgets)",
                )
            )
    return tenant_limits(connection, tenant_id)


# -- admission and settlement ------------------------------------------------------------------


def _period_starts(connection: sa.Connection) -> dict[SpendPeriod, date]:
    """Today and this month in UTC, by the database's clock (the same for every worker)."""
    today, month = connection.execute(
        sa.text(
            "SELECT (now() AT TIME ZONE 'UTC')::date, "
            "date_trunc('month', now() AT TIME ZONE 'UTC')::date"
        )
    ).one()
    return {SpendPeriod.DAY: today, SpendPeriod.MONTH: month}


def _locked_periods(
    connection: sa.Connection, tenant_id: uuid.UUID, limits: TenantLimits
) -> list[PeriodSpend]:
    """The tenant's spend rows of the current periods that have a limit, locked until the
    transaction ends (always in the same order: no deadlock); a period's first call creates
    its row."""
    starts = {p: s for p, s in _period_starts(connection).items() if limits.of(p) is not None}
    if not starts:
        return []
    rows = _lock_rows(connection, tenant_id, starts)
    if len(rows) < len(starts):
        _create_rows(connection, tenant_id, {p: s for p, s in starts.items() if p not in rows})
        rows = _lock_rows(connection, tenant_id, starts)
    return [_period_spend(row, limits.of(period)) for period, row in sorted(rows.items())]


def _lock_rows(
    connection: sa.Connection, tenant_id: uuid.UUID, starts: dict[SpendPeriod, date]
) -> dict[SpendPeriod, sa.Row[Any]]:
    rows = connection.execute(
        sa.select(_spend)
        .where(
            _spend.c.tenant_id == tenant_id,
            sa.tuple_(_spend.c.period, _spend.c.period_start).in_(list(starts.items())),
        )
        .order_by(_spend.c.period)
        .with_for_update()
    ).all()
    return {SpendPeriod(row.period): row for row in rows}


def _create_rows(
    connection: sa.Connection, tenant_id: uuid.UUID, starts: dict[SpendPeriod, date]
) -> None:
    """A period's row starts from what the tenant's runs begun in it have cost so far, so a
    budget set mid-month counts the month's spend before it."""
    for period, start in sorted(starts.items()):
        already = _runs_cost_query(tenant_id, start).subquery()
        connection.execute(
            postgresql.insert(_spend)
            .from_select(
                ["tenant_id", "period", "period_start", "spent_usd", "llm_calls"],
                sa.select(
                    sa.literal(tenant_id, sa.Uuid),
                    sa.literal(period.value, sa.String),
                    sa.literal(start, sa.Date),
                    *already.c,
                ),
            )
            .on_conflict_do_nothing()
        )


def _period_spend(row: sa.Row[Any], limit: Decimal | None) -> PeriodSpend:
    return PeriodSpend(
        period=SpendPeriod(row.period),
        period_start=row.period_start,
        spent_usd=row.spent_usd,
        llm_calls=row.llm_calls,
        granted_usd=row.granted_usd,
        limit_usd=limit,
    )


def admit(
    engine: sa.Engine,
    tenant_id: uuid.UUID,
    limits: TenantLimits,
    *,
    estimate: Decimal,
    run_id: uuid.UUID | None,
    expires_in_seconds: float,
    deadline: float,
) -> uuid.UUID | None:
    """Admit one LLM call of ``tenant_id`` that costs ``estimate`` at the most (waiting, until
    ``deadline`` on ``time.monotonic()``, while calls in flight may fill the budget); its
    reservation's id, or None when the deadline passed first.
    Raises ``TenantBudgetExceeded`` once a period's spend has reached its limit."""
    pause = _FIRST_WAIT_SECONDS
    while True:
        with engine.begin() as connection:
            periods = _locked_periods(connection, tenant_id, limits)
            connection.execute(
                sa.delete(_reservations).where(
                    _reservations.c.tenant_id == tenant_id,
                    _reservations.c.expires_at <= sa.func.now(),
                )
            )
            in_flight, reserved = connection.execute(
                sa.select(
                    sa.func.count(), sa.func.coalesce(sa.func.sum(_reservations.c.estimate_usd), 0)
                ).where(_reservations.c.tenant_id == tenant_id)
            ).one()
            decision = decide(periods, estimate, in_flight, Decimal(reserved))
            if isinstance(decision, Admit):
                reservation_id = uuid.uuid4()
                connection.execute(
                    sa.insert(_reservations).values(
                        id=reservation_id,
                        tenant_id=tenant_id,
                        agent_run_id=run_id,
                        estimate_usd=decision.estimate,
                        expires_at=sa.func.now()
                        + sa.func.make_interval(0, 0, 0, 0, 0, 0, expires_in_seconds),
                    )
                )
                return reservation_id
        if isinstance(decision, Refuse):
            raise exceeded(decision.spend)
        left = deadline - time.monotonic()
        if left <= 0:
            return None  # the run's deadline ends the wait: the caller fails it timed_out
        time.sleep(min(pause, left))
        pause = min(pause * 2, _LONGEST_WAIT_SECONDS)


def settle(
    engine: sa.Engine, tenant_id: uuid.UUID, reservation_id: uuid.UUID, cost: Decimal
) -> None:
    """Count what an admitted call cost into the tenant's current periods and end its
    reservation, in one transaction."""
    with engine.begin() as connection:
        starts = _period_starts(connection)
        rows = _lock_rows(connection, tenant_id, starts)
        if len(rows) < len(starts):
            _create_rows(connection, tenant_id, {p: s for p, s in starts.items() if p not in rows})
            _lock_rows(connection, tenant_id, starts)
        connection.execute(
            sa.update(_spend)
            .where(
                _spend.c.tenant_id == tenant_id,
                sa.tuple_(_spend.c.period, _spend.c.period_start).in_(list(starts.items())),
            )
            .values(
                spent_usd=_spend.c.spent_usd + cost,
                llm_calls=_spend.c.llm_calls + 1,
            )
        )
        connection.execute(sa.delete(_reservations).where(_reservations.c.id == reservation_id))


def release(engine: sa.Engine, reservation_id: uuid.UUID) -> None:
    """End the reservation of a call that cost nothing (it failed or was never made)."""
    with engine.begin() as connection:
        connection.execute(sa.delete(_reservations).where(_reservations.c.id == reservation_id))


def spend_of(connection: sa.Connection, tenant_id: uuid.UUID) -> list[PeriodSpend]:
    """The tenant's spend today and this month against its limits. A period no call of a
    budgeted tenant has counted yet reads what the tenant's runs begun in it have cost."""
    limits = tenant_limits(connection, tenant_id)
    starts = _period_starts(connection)
    rows = {
        SpendPeriod(row.period): row
        for row in connection.execute(
            sa.select(_spend).where(
                _spend.c.tenant_id == tenant_id,
                sa.tuple_(_spend.c.period, _spend.c.period_start).in_(list(starts.items())),
            )
        )
    }
    return [
        _period_spend(rows[period], limits.of(period))
        if period in rows
        else PeriodSpend(
            period, start, *_runs_cost(connection, tenant_id, start), Decimal(0), limits.of(period)
        )
        for period, start in starts.items()
    ]


def _runs_cost_query(tenant_id: uuid.UUID, start: date) -> sa.Select[Any]:
    """What the tenant's runs begun since ``start`` have cost, and their LLM calls."""
    return sa.select(
        sa.func.coalesce(sa.func.sum(_runs.c.cost), 0),
        sa.func.coalesce(sa.func.sum(_runs.c.llm_calls), 0),
    ).where(_runs.c.tenant_id == tenant_id, _runs.c.started_at >= start)


def _runs_cost(connection: sa.Connection, tenant_id: uuid.UUID, start: date) -> tuple[Decimal, int]:
    cost, calls = connection.execute(_runs_cost_query(tenant_id, start)).one()
    return Decimal(cost), int(calls)


def exceeded(spend: PeriodSpend) -> TenantBudgetExceeded:
    """The failure of a run stopped by its tenant's budget, saying what to raise."""
    key = _KEY_OF[spend.period]
    daily = spend.period == SpendPeriod.DAY
    word = "today" if daily else "this month"
    return TenantBudgetExceeded(
        f"the tenant's {'daily' if daily else 'monthly'} budget is spent: it has spent "
        f"${_plain(spend.spent_usd)} {word} of ${_plain(spend.allowed_usd or 0)} "
        f"({spend.llm_calls} LLM calls); raise system_settings {key!r} for the tenant, or "
        "have an approver grant more, to let its runs go on",
        details={
            "limit": key,
            "period": spend.period.value,
            "period_start": spend.period_start.isoformat(),
            "budget_usd": _plain(spend.limit_usd or 0),
            "granted_usd": _plain(spend.granted_usd),
            "spent": {"llm_calls": spend.llm_calls, "cost_usd": _plain(spend.spent_usd)},
        },
    )


def _plain(value: Decimal | int) -> str:
    return format(Decimal(value).normalize(), "f")
