"""Seed 004's resources over HTTP, tenant-scoped: projects, interviews, prompts, board tasks,
chat sessions, commits, AI models and settings (``/v1/…``).

Each module is one resource; ``_common`` holds what they share (the caller's tenant
transaction, the audit row of every write, pagination, the orchestrator's refusals as
problems). Domain rules stay in ``worker.orchestrator``; the routes call it.
"""

from fastapi import APIRouter

from worker.api.resources import (
    ai_models,
    board_tasks,
    chat_sessions,
    commits,
    interviews,
    projects,
    prompts,
    system_settings,
)

__all__ = ["router"]

_MODULES = (
    projects,
    interviews,
    prompts,
    board_tasks,
    chat_sessions,
    commits,
    ai_models,
    system_settings,
)


def router() -> APIRouter:
    """Every resource's routes, to mount with ``app.include_router``."""
    routes = APIRouter()
    for module in _MODULES:
        routes.include_router(module.router())
    return routes
