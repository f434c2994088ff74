"""A rule as a person writes it (JSON or YAML), validated, and as ``automation_rules`` stores it.

::

    name: retry-research-on-failure
    active: true                       # optional, default true
    trigger:
      event: ERROR                     # an event_logs type, or a list of them
      condition: {field: data.code, op: eq, value: too_many_attempts}   # optional
      # or, instead of event/condition:  schedule: {every: 1h}  /  schedule: {cron: "0 9 * * 1-5"}
    action:
      run_agent: {agent: researcher, input: "Look again: {{ event.content }}", priority: 0}
      # or start_workflow: {workflow: review, input: {task: "{{ event.task_id }}"}}
      # or send_communication: {channel: email, to: ops@example.com, subject: …, content: …}

Texts in an action may name a value of the trigger with ``{{ path }}``: ``event.<field>``
(as in conditions), ``rule`` (its name) and ``slot`` (a schedule's slot). Nothing else is
expanded; a path that leads nowhere becomes an empty text.

Stored in the seed's columns: ``trigger_conditions`` holds the trigger, ``action_definitions``
the action (each with ``"version": 1``); ``rule_type`` is ``trigger`` for an event rule,
``condition`` for one with a condition, ``sequence`` for a schedule.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from models import AutomationRuleType, EventType
from worker.automation.conditions import (
    MISSING,
    Condition,
    InvalidCondition,
    lookup,
    parse_condition,
)
from worker.automation.schedules import InvalidSchedule, Schedule, parse_schedule
from worker.core.errors import AgentWorkerError

__all__ = [
    "ACTIONS",
    "InvalidRule",
    "RuleDefinition",
    "parse_rule",
    "render",
    "stored_columns",
]

ACTIONS = ("run_agent", "start_workflow", "send_communication")
CHANNELS = ("email", "in_app")
_VERSION = 1
_TEMPLATE = re.compile(r"\{\{\s*([A-Za-z0-9_.]+)\s*\}\}")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,199}$")
_ACTION_FIELDS: dict[str, tuple[set[str], set[str]]] = {
    # action -> (required, optional)
    "run_agent": ({"agent", "input"}, {"priority", "metadata"}),
    "start_workflow": ({"workflow"}, {"input"}),
    "send_communication": ({"to", "content"}, {"channel", "subject"}),
}


class InvalidRule(AgentWorkerError):
    """A rule that cannot be saved; the message says where and what to write instead."""

    code = "invalid_rule"


@dataclass(frozen=True)
class RuleDefinition:
    name: str
    active: bool
    event_types: tuple[EventType, ...]
    condition: Condition | None
    schedule: Schedule | None
    action: str
    arguments: Mapping[str, Any]
    trigger_document: Mapping[str, Any]

    @property
    def rule_type(self) -> AutomationRuleType:
        if self.schedule is not None:
            return AutomationRuleType.SEQUENCE
        return AutomationRuleType.CONDITION if self.condition else AutomationRuleType.TRIGGER

    def describe_trigger(self) -> str:
        if self.schedule is not None:
            return self.schedule.describe()
        types = "|".join(self.event_types)
        return f"on {types}" + (" if condition" if self.condition else "")


def parse_rule(document: Any) -> RuleDefinition:
    """Validate a rule document; ``InvalidRule`` names the first problem and the fix."""
    if not isinstance(document, Mapping):
        raise InvalidRule("a rule is an object with 'name', 'trigger' and 'action'")
    unknown = sorted(set(document) - {"name", "active", "trigger", "action", "description"})
    if unknown:
        raise InvalidRule(
            f"unknown key {', '.join(map(repr, unknown))}; a rule has 'name', 'active', "
            "'trigger' and 'action'"
        )
    name = document.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidRule(
            "name: give the rule a name of letters, digits and . _ : - (up to 200), e.g. "
            "'retry-failed-research'"
        )
    active = document.get("active", True)
    if not isinstance(active, bool):
        raise InvalidRule("active: true or false")
    try:
        event_types, condition, schedule, trigger = _trigger(document.get("trigger"))
    except (InvalidCondition, InvalidSchedule) as error:
        message = f"trigger.{error}" if isinstance(error, InvalidCondition) else str(error)
        raise InvalidRule(message) from error
    action, arguments = _action(document.get("action"))
    return RuleDefinition(
        name, active, event_types, condition, schedule, action, arguments, trigger
    )


def rule_from_row(name: str, active: bool, trigger: Any, action: Any) -> RuleDefinition:
    """A stored rule (``trigger_conditions``, ``action_definitions``) read back."""
    document = {
        "name": name,
        "active": active,
        "trigger": {k: v for k, v in dict(trigger).items() if k != "version"},
        "action": {k: v for k, v in dict(action).items() if k != "version"},
    }
    return parse_rule(document)


def stored_columns(rule: RuleDefinition) -> dict[str, Any]:
    """The rule's values for ``automation_rules``."""
    return {
        "rule_name": rule.name,
        "rule_type": rule.rule_type,
        "is_active": rule.active,
        "trigger_conditions": {"version": _VERSION, **rule.trigger_document},
        "action_definitions": {"version": _VERSION, rule.action: dict(rule.arguments)},
    }


def as_document(rule: RuleDefinition) -> dict[str, Any]:
    return {
        "name": rule.name,
        "active": rule.active,
        "trigger": dict(rule.trigger_document),
        "action": {rule.action: dict(rule.arguments)},
    }


def render(value: Any, context: Mapping[str, Any]) -> Any:
    """``value`` with every ``{{ path }}`` in its texts replaced from ``context``."""
    if isinstance(value, str):

        def replace(match: re.Match[str]) -> str:
            found = lookup(context, match.group(1))
            return "" if found is MISSING or found is None else str(found)

        return _TEMPLATE.sub(replace, value)
    if isinstance(value, list):
        return [render(item, context) for item in value]
    if isinstance(value, Mapping):
        return {key: render(item, context) for key, item in value.items()}
    return value


def _trigger(
    document: Any,
) -> tuple[tuple[EventType, ...], Condition | None, Schedule | None, dict[str, Any]]:
    if not isinstance(document, Mapping):
        raise InvalidRule(
            'trigger: give {"event": "ERROR", "condition": {...}} or {"schedule": {"every": "1h"}}'
        )
    unknown = sorted(set(document) - {"event", "condition", "schedule"})
    if unknown:
        raise InvalidRule(
            f"trigger: unknown key {', '.join(map(repr, unknown))}; use 'event' (with an "
            "optional 'condition') or 'schedule'"
        )
    if "schedule" in document:
        if "event" in document or "condition" in document:
            raise InvalidRule(
                "trigger: a rule runs on a schedule or on events, not both; make two rules"
            )
        schedule = parse_schedule(document["schedule"])
        return (), None, schedule, {"schedule": dict(document["schedule"])}
    if "event" not in document:
        raise InvalidRule("trigger: name the event type ('event': 'ERROR') or a 'schedule'")
    raw = document["event"]
    names = [raw] if isinstance(raw, str) else raw
    if not isinstance(names, list) or not names:
        raise InvalidRule("trigger.event: an event type or a non-empty list of them")
    types: list[EventType] = []
    for name in names:
        try:
            types.append(EventType(name))
        except ValueError:
            raise InvalidRule(
                f"trigger.event: unknown event type {name!r}; use one of " + ", ".join(EventType)
            ) from None
    condition = None
    stored: dict[str, Any] = {"event": [str(t) for t in types]}
    if document.get("condition") is not None:
        condition = parse_condition(document["condition"])
        stored["condition"] = document["condition"]
    return tuple(types), condition, None, stored


def _action(document: Any) -> tuple[str, dict[str, Any]]:
    if not isinstance(document, Mapping) or len(document) != 1:
        raise InvalidRule(
            "action: give exactly one of " + ", ".join(ACTIONS) + ", e.g. "
            '{"run_agent": {"agent": "researcher", "input": "…"}}'
        )
    ((action, arguments),) = document.items()
    if action not in ACTIONS:
        raise InvalidRule(f"action: unknown action {action!r}; use one of {', '.join(ACTIONS)}")
    if not isinstance(arguments, Mapping):
        raise InvalidRule(f"action.{action}: an object of its arguments")
    required, optional = _ACTION_FIELDS[action]
    missing = sorted(required - set(arguments))
    if missing:
        raise InvalidRule(f"action.{action}: add {', '.join(map(repr, missing))}")
    extra = sorted(set(arguments) - required - optional)
    if extra:
        raise InvalidRule(
            f"action.{action}: unknown {', '.join(map(repr, extra))}; it takes "
            + ", ".join(sorted(required | optional))
        )
    _check_arguments(action, arguments)
    return action, dict(arguments)


def _check_arguments(action: str, arguments: Mapping[str, Any]) -> None:
    where = f"action.{action}"
    if action == "run_agent":
        if not isinstance(arguments["agent"], str) or not arguments["agent"]:
            raise InvalidRule(f"{where}.agent: the agent's name")
        if not isinstance(arguments["input"], str | dict) or not arguments["input"]:
            raise InvalidRule(f"{where}.input: a text or an object for the agent")
        priority = arguments.get("priority", 0)
        if isinstance(priority, bool) or not isinstance(priority, int) or not 0 <= priority <= 9:
            raise InvalidRule(f"{where}.priority: a whole number from 0 to 9")
        if not isinstance(arguments.get("metadata", {}), dict):
            raise InvalidRule(f"{where}.metadata: an object")
    elif action == "start_workflow":
        if not isinstance(arguments["workflow"], str) or not arguments["workflow"]:
            raise InvalidRule(f"{where}.workflow: the workflow's name")
        if not isinstance(arguments.get("input", {}), dict):
            raise InvalidRule(f"{where}.input: an object (the workflow's input)")
    else:
        channel = arguments.get("channel", "in_app")
        if channel not in CHANNELS:
            raise InvalidRule(f"{where}.channel: one of {', '.join(CHANNELS)}, got {channel!r}")
        if not isinstance(arguments["to"], str) or not arguments["to"]:
            raise InvalidRule(f"{where}.to: a user of the tenant, by email or id")
        for key in ("subject", "content"):
            if key in arguments and not isinstance(arguments[key], str):
                raise InvalidRule(f"{where}.{key}: a text")
        if not arguments["content"]:
            raise InvalidRule(f"{where}.content: the message's text")
