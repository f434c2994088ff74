"""``agentworker api``: serve the HTTP API (``worker.api``) with uvicorn."""

from __future__ import annotations

import click

GRACEFUL_SHUTDOWN_SECONDS = 5


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
def api(host: str, port: int) -> None:
    """Serve the HTTP API (OpenAPI at /openapi.json) for services with a tenant API key."""
    import uvicorn

    from models.db import create_sync_engine
    from worker.api.app import create_api
    from worker.core.settings import get_settings
    from worker.durable.publishing import CeleryPublisher, publishing_app

    settings = get_settings()
    engine = create_sync_engine(settings.database_url)
    publisher = CeleryPublisher(publishing_app())
    try:
        with engine.connect():  # fail at once, in one line, when the database is unreachable
            pass
        # An open event stream of a running task never ends by itself: on SIGTERM, give streams
        # a few seconds, then close them (clients resume from Last-Event-ID elsewhere).
        uvicorn.run(
            create_api(settings, engine, publisher),
            host=host,
            port=port,
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        )
    finally:
        engine.dispose()
