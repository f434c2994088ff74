"""``create_api``: the FastAPI application over one engine (logged in as the runtime role that
row-level security confines) and one publisher. Nothing connects at import time."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi import FastAPI

from worker.api import (
    approvals,
    budgets,
    executions,
    health,
    problems,
    resources,
    runs,
    tasks,
)
from worker.core import tracing
from worker.core.settings import Settings
from worker.durable.publishing import Publisher
from worker.inbox import run_pages
from worker.inbox.app import install as install_inbox

TITLE = "agentworker API"
VERSION = "1"


def create_api(settings: Settings, engine: sa.Engine, publisher: Publisher) -> FastAPI:
    app = FastAPI(
        title=TITLE,
        version=VERSION,
        description="Submit and follow agent tasks with a tenant API key "
        "(Authorization: Bearer awk_…). Errors are RFC 9457 problem details.",
    )
    tracing.configure(settings)  # spans for submissions, as OTEL_TRACES_EXPORTER says
    app.state.settings = settings
    app.state.engine = engine
    app.state.publisher = publisher
    problems.install(app)
    app.include_router(health.router())
    app.include_router(tasks.router())
    app.include_router(executions.router())
    app.include_router(runs.router())
    app.include_router(budgets.router())
    app.include_router(approvals.router())
    app.include_router(resources.router())
    install_inbox(app)
    app.include_router(run_pages.router())
    return app
