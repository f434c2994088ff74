"""The run pages: a task's or a workflow execution's timeline (``worker.ops.timeline``) drawn
as bars on one time axis, with tokens, cost and status per step and the events below.

- ``GET /runs/tasks/{task_id}`` and ``GET /runs/executions/{execution_id}``: the HTML page;
- ``GET …/timeline.json``: the same timeline as JSON plus the page's timeline fragment, which
  the page fetches every ``POLL_SECONDS`` and swaps in while the run is not final.

Who may see a run: a signed-in member of the run's tenant, whatever the role. Anyone else, and
any id that names nothing, gets the same 404, so a page does not say which runs exist.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from models import TenantMembership
from models.tenant_scope import tenant_scope
from worker.durable.tenant_lookup import tenant_of_execution, tenant_of_task
from worker.inbox.problem_json import problem
from worker.inbox.sessions import SignedIn, require_signed_in
from worker.inbox.templating import render, templates
from worker.ops.timeline import Bar, Timeline, execution_timeline, task_timeline

__all__ = ["POLL_SECONDS", "router", "view"]

#: How often an open run page asks for news.
POLL_SECONDS = 1.5
#: The narrowest a bar is drawn (percent of the axis), so an instant step still shows.
_MIN_WIDTH = 0.4
_TICKS = 5

_OK = {"succeeded", "success", "completed", "approved", "skipped"}
_BAD = {"failed", "failure", "timeout", "rejected", "expired", "cancelled", "unknown"}
_KIND_NAMES = {
    "llm": "LLM",
    "tool": "tool",
    "approval": "approval",
    "retry": "retry",
    "step": "step",
}


@dataclass(frozen=True)
class _Run:
    """What a URL names: how to find its tenant and read its timeline."""

    kind: str
    tenant_of: Callable[[sa.Connection, uuid.UUID], uuid.UUID | None]
    read: Callable[[sa.Connection, uuid.UUID], Timeline | None]

    def path(self, run_id: uuid.UUID | str) -> str:
        return f"/runs/{self.kind}s/{run_id}"


_TASK = _Run("task", tenant_of_task, task_timeline)
_EXECUTION = _Run("execution", tenant_of_execution, execution_timeline)


#: The signed-in user of a run page (others are sent to sign in).
Me = Annotated[SignedIn, Depends(require_signed_in)]


class RunNotFound(Exception):
    """No run by that id that this user may see: answered 404 either way."""


def router() -> APIRouter:
    routes = APIRouter(include_in_schema=False)

    @routes.get("/runs/tasks/{task_id}")
    def task_page(request: Request, task_id: str, user: Me) -> Response:
        return _page(request, _TASK, task_id, user)

    @routes.get("/runs/tasks/{task_id}/timeline.json")
    def task_json(request: Request, task_id: str, user: Me) -> Response:
        return _json(request, _TASK, task_id, user)

    @routes.get("/runs/executions/{execution_id}")
    def execution_page(request: Request, execution_id: str, user: Me) -> Response:
        return _page(request, _EXECUTION, execution_id, user)

    @routes.get("/runs/executions/{execution_id}/timeline.json")
    def execution_json(request: Request, execution_id: str, user: Me) -> Response:
        return _json(request, _EXECUTION, execution_id, user)

    return routes


def _page(request: Request, run: _Run, run_id: str, user: SignedIn) -> Response:
    try:
        timeline = _timeline(request, run, run_id, user)
    except RunNotFound:
        return render(
            request,
            "runs/not_found.html",
            {"what": run.kind, "run_id": run_id},
            status=404,
        )
    return render(
        request,
        "runs/page.html",
        {
            "view": view(timeline),
            "poll_url": run.path(timeline.id) + "/timeline.json",
            "poll_ms": int(POLL_SECONDS * 1000),
        },
    )


def _json(request: Request, run: _Run, run_id: str, user: SignedIn) -> Response:
    try:
        timeline = _timeline(request, run, run_id, user)
    except RunNotFound:
        return problem(
            404,
            "not-found",
            "Run not found",
            f"no {run.kind} {run_id} that you can see: check the id, or ask an "
            "owner of its tenant to add you as a member",
        )
    fragment = templates.get_template("runs/_timeline.html").render(view=view(timeline))
    return JSONResponse(
        {"timeline": timeline.to_dict(), "html": fragment},
        headers={"Cache-Control": "no-store"},
    )


def _timeline(request: Request, run: _Run, run_id: str, user: SignedIn) -> Timeline:
    """The run's timeline, read in its tenant's scope, if ``user`` is a member of it."""
    try:
        parsed = uuid.UUID(run_id)
    except ValueError:
        raise RunNotFound() from None
    engine: sa.Engine = request.app.state.engine
    with engine.connect() as connection:
        tenant_id = run.tenant_of(connection, parsed)
    if tenant_id is None:
        raise RunNotFound()
    with tenant_scope(tenant_id, user_id=user.user_id), engine.connect() as connection:
        member = connection.execute(
            sa.select(TenantMembership.role).where(
                TenantMembership.tenant_id == tenant_id,
                TenantMembership.user_id == user.user_id,
            )
        ).first()
        timeline = run.read(connection, parsed) if member is not None else None
    if timeline is None:
        raise RunNotFound()
    return timeline


# --- what the templates draw -----------------------------------------------------------------


def view(timeline: Timeline) -> dict[str, Any]:
    """The timeline laid out on its axis: each bar's left edge and width in percent of it."""
    axis_start = timeline.start
    ends = [b.end or timeline.as_of for b in timeline.bars]
    axis_end = max([timeline.end or timeline.as_of, *ends])
    span = max((axis_end - axis_start).total_seconds(), 0.001)

    def percent(at: datetime) -> float:
        return min(max((at - axis_start).total_seconds() / span * 100, 0.0), 100.0)

    bars = []
    for bar in timeline.bars:
        left = percent(bar.start)
        right = percent(bar.end or timeline.as_of)
        width = max(right - left, _MIN_WIDTH)
        left = min(left, 100 - width)
        bars.append(
            {
                "bar": bar,
                "kind_name": _KIND_NAMES.get(bar.kind, bar.kind),
                "tone": tone(bar.status),
                "left": f"{left:.3f}",
                "width": f"{width:.3f}",
                "duration": _duration((bar.end or timeline.as_of) - bar.start),
                "tokens": f"{bar.tokens:,}" if bar.tokens is not None else "—",
                "cost": money(bar.cost),
                "link": _link(bar),
                "offset": _duration(bar.start - axis_start),
            }
        )
    ticks = [
        {
            "left": f"{i * 100 / (_TICKS - 1):.3f}",
            "label": _duration(timedelta(seconds=span * i / (_TICKS - 1))),
        }
        for i in range(_TICKS)
    ]
    return {
        "timeline": timeline,
        "bars": bars,
        "ticks": ticks,
        "tone": tone(timeline.status.lower()),
        "duration": _duration(axis_end - axis_start),
        "tokens": f"{timeline.tokens:,}",
        "cost": money(timeline.cost),
        "events": [{"event": e, "offset": _duration(e.at - axis_start)} for e in timeline.events],
        "execution_link": (
            f"/runs/executions/{timeline.execution_id}" if timeline.execution_id else None
        ),
    }


def _link(bar: Bar) -> str | None:
    """Where a bar leads: a step's task's run page, an approval's page in the inbox."""
    if bar.task_id is not None:
        return f"/runs/tasks/{bar.task_id}"
    if bar.approval_id is not None:
        return f"/inbox/approvals/{bar.approval_id}"
    return None


def tone(status: str) -> str:
    """How a status is coloured: ok, bad, or open (still going)."""
    status = status.lower()
    if status in _OK:
        return "ok"
    if status in _BAD:
        return "bad"
    return "open"


def money(cost: Decimal | None) -> str:
    return "—" if cost is None else f"${cost:.6f}"


def _duration(delta: timedelta) -> str:
    seconds = max(delta.total_seconds(), 0.0)
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.2f} s"
    minutes, rest = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"
