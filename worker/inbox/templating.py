"""The inbox's Jinja2 templates (worker/inbox/templates, autoescaped) and ``render``, which
gives every page the signed-in user and the CSRF token its forms carry."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

from worker.inbox.csrf import FIELD, attach, csrf_token
from worker.inbox.sessions import signed_in

__all__ = ["PAGE_HEADERS", "TEMPLATE_DIR", "render", "templates"]

TEMPLATE_DIR = Path(__file__).with_name("templates")

templates = Jinja2Templates(
    env=jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATE_DIR),
        autoescape=True,
    )
)


def duration(seconds: float | None) -> str:
    """A person's reading of a duration: 45 s, 12 min, 3 h 5 min, 2 d 4 h."""
    if seconds is None:
        return "—"
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes = seconds // 60
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def timestamp(value: datetime | None) -> str:
    """UTC, to the second: 2026-12-02 14:05:09 UTC."""
    if value is None:
        return "—"
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


#: Every page: not cached (it shows a person's queue), never framed by another site (no
#: clickjacking of an Approve button), no URL leaked to other sites.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
}

templates.env.filters["duration"] = duration
templates.env.filters["timestamp"] = timestamp


def render(
    request: Request, name: str, context: dict[str, Any] | None = None, status: int = 200
) -> Response:
    """The template ``name`` with ``context`` plus ``user`` (the SignedIn or None),
    ``csrf_token`` and ``csrf_field`` (the form field's name)."""
    full = {
        "user": signed_in(request),
        "csrf_token": csrf_token(request),
        "csrf_field": FIELD,
        **(context or {}),
    }
    response = templates.TemplateResponse(request, name, full, status_code=status)
    attach(request, response)
    for header, value in PAGE_HEADERS.items():
        response.headers.setdefault(header, value)
    return response
