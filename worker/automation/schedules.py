"""A rule's schedule: an interval (``{"every": "15m"}``) or a five-field cron line
(``{"cron": "0 9 * * 1-5"}``, minute hour day-of-month month day-of-week, UTC), and the slot
that is due now.

A slot is a point in time; a rule fires once per slot (its key is ``schedule:<slot>``). An
interval's slots are the multiples of it since the Unix epoch; a cron line's are the minutes it
names. The sweep fires the latest slot that is due: a cron slot is looked for only
``CRON_LOOKBACK`` back, so slots missed while no sweep ran are not caught up one by one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from worker.core.errors import AgentWorkerError

__all__ = ["CRON_LOOKBACK", "Cron", "Interval", "InvalidSchedule", "Schedule", "parse_schedule"]

CRON_LOOKBACK = timedelta(minutes=10)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_EVERY = re.compile(r"^\s*(\d+)\s*([smhd])\s*$")
#: (name, lowest, highest)
_FIELDS = (("minute", 0, 59), ("hour", 0, 23), ("day of month", 1, 31), ("month", 1, 12),
           ("day of week", 0, 7))  # fmt: skip
_MIN_INTERVAL = 10


class InvalidSchedule(AgentWorkerError):
    code = "invalid_schedule"


@dataclass(frozen=True)
class Interval:
    seconds: int

    def due_slot(self, now: datetime) -> datetime | None:
        elapsed = int((now - _EPOCH).total_seconds())
        return _EPOCH + timedelta(seconds=elapsed - elapsed % self.seconds)

    def describe(self) -> str:
        return f"every {self.seconds}s"


@dataclass(frozen=True)
class Cron:
    line: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    any_day: bool
    any_weekday: bool

    def fires_at(self, moment: datetime) -> bool:
        moment = moment.astimezone(UTC)
        if moment.minute not in self.minutes or moment.hour not in self.hours:
            return False
        if moment.month not in self.months:
            return False
        day = moment.day in self.days
        weekday = (moment.isoweekday() % 7) in self.weekdays
        if self.any_day or self.any_weekday:  # cron: both restricted means either
            return day and weekday
        return day or weekday

    def due_slot(self, now: datetime) -> datetime | None:
        minute = now.astimezone(UTC).replace(second=0, microsecond=0)
        oldest = minute - CRON_LOOKBACK
        while minute > oldest:
            if self.fires_at(minute):
                return minute
            minute -= timedelta(minutes=1)
        return None

    def describe(self) -> str:
        return f"cron '{self.line}' (UTC)"


Schedule = Interval | Cron


def parse_schedule(document: Any, where: str = "trigger.schedule") -> Schedule:
    if (
        not isinstance(document, Mapping)
        or len(document) != 1
        or not ("every" in document or "cron" in document)
    ):
        raise InvalidSchedule(
            f'{where}: give one of {{"every": "15m"}} (an interval: s, m, h or d) or '
            '{"cron": "0 9 * * 1-5"} (minute hour day-of-month month day-of-week, UTC)'
        )
    if "every" in document:
        return _interval(document["every"], f"{where}.every")
    return _cron(document["cron"], f"{where}.cron")


def _interval(value: Any, where: str) -> Interval:
    if isinstance(value, int) and not isinstance(value, bool):
        seconds = value
    elif isinstance(value, str) and (match := _EVERY.match(value)):
        seconds = int(match.group(1)) * _UNITS[match.group(2)]
    else:
        raise InvalidSchedule(
            f"{where}: write a number of seconds or e.g. '30s', '15m', '2h', '1d'"
        )
    if seconds < _MIN_INTERVAL:
        raise InvalidSchedule(f"{where}: at least {_MIN_INTERVAL} seconds apart, got {seconds}")
    return Interval(seconds)


def _cron(value: Any, where: str) -> Cron:
    parts = value.split() if isinstance(value, str) else []
    if len(parts) != 5:
        raise InvalidSchedule(
            f"{where}: a cron line has five fields (minute hour day-of-month month "
            f"day-of-week), got {value!r}"
        )
    sets = [
        _cron_field(part, name, low, high, where)
        for part, (name, low, high) in zip(parts, _FIELDS, strict=True)
    ]
    weekdays = frozenset(day % 7 for day in sets[4])
    return Cron(
        " ".join(parts),
        sets[0],
        sets[1],
        sets[2],
        sets[3],
        weekdays,
        any_day=parts[2] == "*",
        any_weekday=parts[4] == "*",
    )


def _cron_field(text: str, name: str, low: int, high: int, where: str) -> frozenset[int]:
    values: set[int] = set()
    for item in text.split(","):
        match = re.fullmatch(r"(\*|\d+(?:-\d+)?)(?:/(\d+))?", item)
        if match is None:
            raise InvalidSchedule(
                f"{where}: {name} field {text!r}: use *, a number, a range a-b, a step */n "
                "or a-b/n, or a list of them"
            )
        span, step_text = match.groups()
        if span == "*":
            first, last = low, high
        elif "-" in span:
            first, last = (int(n) for n in span.split("-"))
        else:
            first = last = int(span)
        step = int(step_text) if step_text else 1
        if not (low <= first <= last <= high) or step < 1:
            raise InvalidSchedule(
                f"{where}: {name} field {text!r} is outside {low}-{high} (or its step is 0)"
            )
        values.update(range(first, last + 1, step))
    return frozenset(values)
