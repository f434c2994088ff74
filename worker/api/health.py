"""``/healthz`` (the process answers) and ``/readyz`` (the database and the broker answer,
the checks of ``agentworker health``)."""

from __future__ import annotations

import dataclasses
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from worker.api.problems import MEDIA_TYPE, TYPE_PREFIX
from worker.ops.health import check_broker, check_database

READY_TIMEOUT_SECONDS = 3.0


def router() -> APIRouter:
    routes = APIRouter(tags=["health"])

    @routes.get("/healthz", summary="The process is up")
    def healthz() -> dict[str, Any]:
        return {"status": "ok"}

    @routes.get("/readyz", summary="The database and the broker answer")
    def readyz(request: Request) -> JSONResponse:
        settings = request.app.state.settings
        checks = (
            check_database(settings.database_url, READY_TIMEOUT_SECONDS),
            check_broker(settings.broker_url, READY_TIMEOUT_SECONDS),
        )
        listed = [dataclasses.asdict(check) for check in checks]
        if all(check.ok for check in checks):
            return JSONResponse({"status": "ready", "checks": listed})
        failed = "; ".join(f"{c.name}: {c.detail}" for c in checks if not c.ok)
        return JSONResponse(
            {
                "type": TYPE_PREFIX + "not_ready",
                "title": "Not ready",
                "status": 503,
                "detail": failed,
                "checks": listed,
            },
            status_code=503,
            media_type=MEDIA_TYPE,
        )

    return routes
