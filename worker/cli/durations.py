"""Durations as people type them on the command line: ``90d``, ``12h``, ``30m``, ``2w``."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import click

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"^\s*(\d+)\s*([smhdw])\s*$")


def parse_duration(text: str) -> timedelta:
    match = _DURATION.match(text)
    if match is None or int(match.group(1)) == 0:
        raise click.BadParameter(
            f"{text!r} is not a duration: write a positive number and a unit, e.g. 90d, 12h, "
            "30m or 2w"
        )
    return timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])


def expiry(expires_in: str | None) -> datetime | None:
    """When something given ``--expires-in`` now expires (None: never)."""
    return datetime.now(UTC) + parse_duration(expires_in) if expires_in else None
