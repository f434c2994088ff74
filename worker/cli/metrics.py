"""``agentworker metrics``: serve Prometheus metrics read from the database at scrape time."""

from __future__ import annotations

import signal
import threading
from types import FrameType

import click
import sqlalchemy as sa

from models.db import DatabaseURLMissing, create_sync_engine
from worker.cli.failures import describe
from worker.core.errors import ConfigurationError
from worker.core.settings import get_settings
from worker.durable import schema
from worker.ops.logs import configure_logging
from worker.ops.metrics import DatabaseCollector, render_metrics, serve_metrics


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=9464,
    show_default=True,
    help="Port to listen on (0 picks a free one).",
)
@click.option("--once", is_flag=True, help="Print the exposition once and exit.")
def metrics(host: str, port: int, once: bool) -> None:
    """Serve Prometheus metrics (tasks, LLM usage and latency, approvals, workflows).

    The figures are computed from PostgreSQL at each scrape, so one exporter covers every
    worker. Runs until Ctrl-C or SIGTERM. With --once, exit 1 if the database cannot be read.
    """
    settings = get_settings()
    try:
        engine = create_sync_engine(settings.database_url, pool_size=2, max_overflow=2)
    except DatabaseURLMissing as error:
        raise ConfigurationError(str(error)) from error
    try:
        try:
            schema.assert_schema_current(engine)
        except sa.exc.OperationalError as error:
            raise click.ClickException(describe(error)) from error
        configure_logging(settings.log_level)
        if once:
            collector = DatabaseCollector(engine)
            click.echo(render_metrics(collector), nl=False)
            if not collector.up:
                raise click.ClickException("could not read the database (see the log above)")
            return
        server = serve_metrics(engine, host, port)
        click.echo(f"serving metrics on {server.url} (Ctrl-C to stop)", err=True)
        try:
            _wait_for_stop()
        finally:
            server.close()
    finally:
        engine.dispose()


def _wait_for_stop() -> None:
    stop = threading.Event()

    def handle(_signum: int, _frame: FrameType | None) -> None:
        stop.set()

    previous = {s: signal.signal(s, handle) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stop.wait(0.5):
            pass
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
