"""How the CLI prints: human-readable lines by default, JSON with ``--json``."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, is_dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from worker.client import EventView

_EVENT_COLOURS = {
    "ERROR": "red",
    "RESULT": "green",
    "AGENT_COMPLETE": "green",
    "TOOL_CALL": "cyan",
    "TOOL_RESULT": "cyan",
    "LLM_CALL": "blue",
    "APPROVAL_REQUESTED": "yellow",
    "APPROVAL_RESOLVED": "yellow",
    "SYSTEM": "magenta",
}


def as_json(value: Any) -> str:
    def default(item: Any) -> Any:
        if is_dataclass(item) and not isinstance(item, type):
            return asdict(item)
        if isinstance(item, datetime):
            return item.isoformat()
        return str(item)

    return json.dumps(value, default=default, ensure_ascii=False)


def event_line(event: EventView) -> str:
    kind = event.event_type.value
    stamp = event.created_at.strftime("%H:%M:%S.%f")[:-3]
    text = (event.content or "").replace("\n", " ")
    if len(text) > 160:
        text = text[:159] + "…"
    who = f" {event.agent_role}" if event.agent_role else ""
    return f"{stamp} {click.style(f'{kind:<18}', fg=_EVENT_COLOURS.get(kind))}{who}: {text}"


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> str:
    cells = [[str(h) for h in headers], *[[_cell(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value)
