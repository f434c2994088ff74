"""The automation rules' condition language and schedules: declarative JSON, never evaluated as
code; invalid conditions are refused with where they went wrong and what to write."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from worker.automation.conditions import InvalidCondition, matches, parse_condition
from worker.automation.definition import InvalidRule, parse_rule, render
from worker.automation.schedules import InvalidSchedule, parse_schedule

EVENT = {
    "event_type": "ERROR",
    "content": "rejected: unknown agent 'plannr'",
    "agent_role": "planner",
    "data": {"code": "unknown_agent", "attempts": 3, "tags": ["x", "y"], "nested": {"ok": True}},
}


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"field": "data.code", "op": "eq", "value": "unknown_agent"}, True),
        ({"field": "data.code", "op": "eq", "value": "other"}, False),
        ({"field": "data.code", "op": "ne", "value": "other"}, True),
        ({"field": "data.missing", "op": "ne", "value": "x"}, True),
        ({"field": "data.missing", "op": "eq", "value": None}, False),
        ({"field": "data.attempts", "op": "gte", "value": 3}, True),
        ({"field": "data.attempts", "op": "gt", "value": 3}, False),
        ({"field": "data.attempts", "op": "lt", "value": "9"}, False),  # number vs text
        ({"field": "data.code", "op": "in", "value": ["a", "unknown_agent"]}, True),
        ({"field": "data.code", "op": "not_in", "value": ["unknown_agent"]}, False),
        ({"field": "content", "op": "contains", "value": "plannr"}, True),
        ({"field": "data.tags", "op": "contains", "value": "y"}, True),
        ({"field": "data.tags.0", "op": "eq", "value": "x"}, True),
        ({"field": "content", "op": "startswith", "value": "rejected"}, True),
        ({"field": "data.nested.ok", "op": "exists"}, True),
        ({"field": "data.nested.no", "op": "not_exists"}, True),
        ({"field": "content.deeper", "op": "exists"}, False),
        (
            {
                "all": [
                    {"field": "event_type", "op": "eq", "value": "ERROR"},
                    {
                        "any": [
                            {"field": "agent_role", "op": "eq", "value": "nobody"},
                            {"not": {"field": "data.attempts", "op": "lt", "value": 2}},
                        ]
                    },
                ]
            },
            True,
        ),
        ({"not": {"field": "event_type", "op": "eq", "value": "ERROR"}}, False),
    ],
)
def test_conditions_hold_as_written(condition: dict, expected: bool) -> None:
    assert matches(parse_condition(condition), EVENT) is expected


def test_no_condition_always_holds() -> None:
    assert matches(None, EVENT)


@pytest.mark.parametrize(
    ("condition", "message"),
    [
        ("data.code == 'x'", "a condition is an object"),
        (
            {"field": "data.code", "op": "equals", "value": 1},
            "condition.op: unknown operator 'equals'; use one of eq, ne",
        ),
        (
            {"field": "data.code", "op": "eq"},
            "condition.value: 'eq' compares with a value; add 'value'",
        ),
        ({"field": "data.code", "op": "exists", "value": 1}, "'exists' takes no value; remove it"),
        ({"field": "data..code", "op": "eq", "value": 1}, "condition.field: give a dotted path"),
        ({"field": "x", "op": "in", "value": "abc"}, "'in' takes a list of values"),
        ({"all": []}, "condition.all: give a non-empty list of conditions"),
        ({"all": [{"field": "x", "op": "eq", "value": 1}, {"op": "eq"}]}, "condition.all[1].field"),
        ({"any": [{"field": "x", "op": "eq", "value": 1}], "field": "y"}, "'any' stands alone"),
        ({"field": "x", "op": "eq", "value": 1, "eval": "os.system"}, "unknown key 'eval'"),
        ({"field": "x", "op": "gt", "value": [1]}, "'gt' compares with a number or a text"),
    ],
)
def test_invalid_conditions_say_where_and_what_to_write(condition: object, message: str) -> None:
    with pytest.raises(InvalidCondition) as refused:
        parse_condition(condition)
    assert message in str(refused.value)


def test_values_are_data_never_code() -> None:
    condition = parse_condition({"field": "content", "op": "eq", "value": "__import__('os')"})
    assert not matches(condition, {"content": "anything"})
    assert matches(condition, {"content": "__import__('os')"})


def test_intervals_fire_once_per_multiple_since_the_epoch() -> None:
    schedule = parse_schedule({"every": "15m"})
    at = datetime(2026, 12, 3, 9, 44, 59, tzinfo=UTC)
    assert schedule.due_slot(at) == datetime(2026, 12, 3, 9, 30, tzinfo=UTC)
    assert schedule.due_slot(at.replace(minute=45, second=0)) == at.replace(minute=45, second=0)


def test_cron_lines_name_minutes_in_utc() -> None:
    weekday_nine = parse_schedule({"cron": "0 9 * * 1-5"})
    thursday = datetime(2026, 12, 3, 9, 4, tzinfo=UTC)
    assert weekday_nine.due_slot(thursday) == datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
    assert weekday_nine.due_slot(datetime(2026, 12, 5, 9, 1, tzinfo=UTC)) is None  # Saturday
    assert weekday_nine.due_slot(thursday.replace(hour=10, minute=30)) is None  # long past
    every_five = parse_schedule({"cron": "*/5 * * * *"})
    assert every_five.due_slot(datetime(2026, 12, 3, 9, 7, 30, tzinfo=UTC)) == datetime(
        2026, 12, 3, 9, 5, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ({"every": "5s"}, "at least 10 seconds"),
        ({"every": "soon"}, "e.g. '30s', '15m'"),
        ({"cron": "0 9 * *"}, "five fields"),
        ({"cron": "61 * * * *"}, "minute field '61' is outside 0-59"),
        ({"at": "9am"}, 'give one of {"every"'),
    ],
)
def test_invalid_schedules_are_refused(schedule: object, message: str) -> None:
    with pytest.raises(InvalidSchedule) as refused:
        parse_schedule(schedule)
    assert message in str(refused.value)


RULE = {
    "name": "retry-research",
    "trigger": {"event": "ERROR", "condition": {"field": "data.code", "op": "eq", "value": "x"}},
    "action": {"run_agent": {"agent": "researcher", "input": "look again"}},
}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": "has spaces"}, "name: give the rule a name"),
        ({"trigger": {"event": "EXPLODED"}}, "unknown event type 'EXPLODED'; use one of LOG"),
        ({"trigger": {"event": "ERROR", "schedule": {"every": "1h"}}}, "not both"),
        (
            {"trigger": {"event": "ERROR", "condition": {"field": "x", "op": "like", "value": 1}}},
            "trigger.condition.op: unknown operator 'like'",
        ),
        ({"action": {"launch_rocket": {}}}, "unknown action 'launch_rocket'; use one of run_agent"),
        ({"action": {"run_agent": {"agent": "researcher"}}}, "action.run_agent: add 'input'"),
        (
            {"action": {"run_agent": {"agent": "r", "input": "x", "priority": 12}}},
            "priority: a whole number from 0 to 9",
        ),
        (
            {"action": {"send_communication": {"to": "a@b.c", "content": "x", "channel": "sms"}}},
            "channel: one of email, in_app",
        ),
        ({"extra": 1}, "unknown key 'extra'"),
    ],
)
def test_invalid_rules_are_refused_with_what_to_do(change: dict, message: str) -> None:
    with pytest.raises(InvalidRule) as refused:
        parse_rule({**RULE, **change})
    assert message in str(refused.value)


def test_templates_name_trigger_values_and_nothing_else() -> None:
    context = {"event": {"content": "boom", "data": {"code": 7}}, "rule": "r"}
    rendered = render(
        {
            "text": "{{ event.content }} ({{event.data.code}}) by {{ rule }}{{ event.nope }}",
            "list": ["{{ __class__ }}"],
        },
        context,
    )
    assert rendered == {"text": "boom (7) by r", "list": [""]}
