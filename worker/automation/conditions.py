"""The condition language of a rule's trigger: small, declarative JSON, never evaluated as code.

A condition is one of::

    {"field": "data.status", "op": "eq", "value": "FAILED"}     # a comparison
    {"all": [<condition>, ...]}                                  # every one holds
    {"any": [<condition>, ...]}                                  # at least one holds
    {"not": <condition>}                                         # it does not hold

``field`` is a dotted path into the event (``event_type``, ``content``, ``agent_role``,
``task_id``, ``workflow_execution_id``, ``data.<key>.<key>…``; a number in the path indexes a
list). A path that leads nowhere is *missing*: only ``exists`` / ``not_exists`` and ``ne`` /
``not_in`` hold for it. Comparisons of different kinds (a number with a text) do not hold,
they never raise.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from worker.core.errors import AgentWorkerError

__all__ = [
    "OPERATORS",
    "All",
    "Any_",
    "Comparison",
    "Condition",
    "InvalidCondition",
    "Not",
    "lookup",
    "matches",
    "parse_condition",
]

MISSING: Any = object()
_MAX_DEPTH = 16


class InvalidCondition(AgentWorkerError):
    """A condition that is not in the language; ``where`` is its path in the rule."""

    code = "invalid_condition"

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where


def _ordered(compare: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def apply(left: Any, right: Any) -> bool:
        if left is MISSING or isinstance(left, bool) or isinstance(right, bool):
            return False
        numbers = isinstance(left, int | float) and isinstance(right, int | float)
        texts = isinstance(left, str) and isinstance(right, str)
        return (numbers or texts) and compare(left, right)

    return apply


def _contains(left: Any, right: Any) -> bool:
    if isinstance(left, str):
        return isinstance(right, str) and right in left
    if isinstance(left, list):
        return right in left
    return False


#: operator -> (test, whether it takes a value)
OPERATORS: dict[str, tuple[Callable[[Any, Any], bool], bool]] = {
    "eq": (lambda left, right: left is not MISSING and left == right, True),
    "ne": (lambda left, right: left is MISSING or left != right, True),
    "gt": (_ordered(lambda left, right: left > right), True),
    "gte": (_ordered(lambda left, right: left >= right), True),
    "lt": (_ordered(lambda left, right: left < right), True),
    "lte": (_ordered(lambda left, right: left <= right), True),
    "in": (lambda left, right: left is not MISSING and left in right, True),
    "not_in": (lambda left, right: left is MISSING or left not in right, True),
    "contains": (lambda left, right: left is not MISSING and _contains(left, right), True),
    "startswith": (
        lambda left, right: isinstance(left, str) and left.startswith(right),
        True,
    ),
    "exists": (lambda left, _right: left is not MISSING and left is not None, False),
    "not_exists": (lambda left, _right: left is MISSING or left is None, False),
}


@dataclass(frozen=True)
class Comparison:
    field: str
    op: str
    value: Any = None

    def holds(self, subject: Mapping[str, Any]) -> bool:
        test, _ = OPERATORS[self.op]
        return bool(test(lookup(subject, self.field), self.value))


@dataclass(frozen=True)
class All:
    conditions: tuple[Condition, ...]

    def holds(self, subject: Mapping[str, Any]) -> bool:
        return all(condition.holds(subject) for condition in self.conditions)


@dataclass(frozen=True)
class Any_:
    conditions: tuple[Condition, ...]

    def holds(self, subject: Mapping[str, Any]) -> bool:
        return any(condition.holds(subject) for condition in self.conditions)


@dataclass(frozen=True)
class Not:
    condition: Condition

    def holds(self, subject: Mapping[str, Any]) -> bool:
        return not self.condition.holds(subject)


Condition = Comparison | All | Any_ | Not


def matches(condition: Condition | None, subject: Mapping[str, Any]) -> bool:
    """Whether ``subject`` (an event as a dict) satisfies ``condition`` (None: always)."""
    return condition is None or condition.holds(subject)


def lookup(subject: Any, path: str) -> Any:
    """The value at dotted ``path`` in ``subject``, or ``MISSING``."""
    value = subject
    for part in path.split("."):
        if isinstance(value, Mapping):
            value = value.get(part, MISSING)
        elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
            value = value[int(part)]
        else:
            return MISSING
        if value is MISSING:
            return MISSING
    return value


def parse_condition(document: Any, where: str = "condition", _depth: int = 0) -> Condition:
    """The condition in ``document``, or ``InvalidCondition`` saying where and what to write."""
    if _depth > _MAX_DEPTH:
        raise InvalidCondition(where, f"nested deeper than {_MAX_DEPTH} levels; flatten it")
    if not isinstance(document, Mapping):
        raise InvalidCondition(
            where,
            'a condition is an object: {"field": …, "op": …, "value": …}, {"all": [...]}, '
            '{"any": [...]} or {"not": {...}}',
        )
    groups = [key for key in ("all", "any", "not") if key in document]
    if groups:
        if len(document) != 1:
            raise InvalidCondition(
                where, f"'{groups[0]}' stands alone in its object; put other keys inside it"
            )
        key = groups[0]
        inner = document[key]
        if key == "not":
            return Not(parse_condition(inner, f"{where}.not", _depth + 1))
        if not isinstance(inner, Sequence) or isinstance(inner, str) or not inner:
            raise InvalidCondition(f"{where}.{key}", "give a non-empty list of conditions")
        parts = tuple(
            parse_condition(item, f"{where}.{key}[{index}]", _depth + 1)
            for index, item in enumerate(inner)
        )
        return All(parts) if key == "all" else Any_(parts)
    return _comparison(document, where)


def _comparison(document: Mapping[str, Any], where: str) -> Comparison:
    unknown = sorted(set(document) - {"field", "op", "value"})
    if unknown:
        raise InvalidCondition(
            where,
            f"unknown key {', '.join(map(repr, unknown))}; a comparison has 'field', 'op' and "
            "'value' (or is 'all', 'any' or 'not')",
        )
    field = document.get("field")
    if not isinstance(field, str) or not field or any(not part for part in field.split(".")):
        raise InvalidCondition(
            f"{where}.field", "give a dotted path into the event, e.g. 'data.status'"
        )
    op = document.get("op")
    if op not in OPERATORS:
        raise InvalidCondition(
            f"{where}.op", f"unknown operator {op!r}; use one of {', '.join(OPERATORS)}"
        )
    _, takes_value = OPERATORS[op]
    if not takes_value:
        if "value" in document:
            raise InvalidCondition(f"{where}.value", f"'{op}' takes no value; remove it")
        return Comparison(field, op)
    if "value" not in document:
        raise InvalidCondition(f"{where}.value", f"'{op}' compares with a value; add 'value'")
    value = document["value"]
    if op in ("in", "not_in") and not isinstance(value, list):
        raise InvalidCondition(f"{where}.value", f"'{op}' takes a list of values")
    if op in ("gt", "gte", "lt", "lte") and (
        isinstance(value, bool) or not isinstance(value, int | float | str)
    ):
        raise InvalidCondition(f"{where}.value", f"'{op}' compares with a number or a text")
    if op == "startswith" and not isinstance(value, str):
        raise InvalidCondition(f"{where}.value", "'startswith' takes a text")
    return Comparison(field, op, value)
