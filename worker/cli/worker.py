"""``agentworker worker``: a Celery worker with the right pool and concurrency."""

from __future__ import annotations

import click


@click.command()
@click.option(
    "--concurrency",
    "-c",
    type=click.IntRange(1, 1000),
    envvar="AGENTWORKER_CONCURRENCY",
    default=32,
    show_default=True,
    help="Runs in flight (threads).",
)
@click.option("--queues", "-Q", default="agents,workflows,maintenance,celery", show_default=True)
@click.option("--beat", is_flag=True, help="Also run the beat scheduler (one per deployment).")
@click.option("--loglevel", "-l", envvar="LOG_LEVEL", default="INFO", show_default=True)
@click.option("--hostname", "-n", default=None, help="Worker node name (default: celery's).")
def worker(concurrency: int, queues: str, beat: bool, loglevel: str, hostname: str | None) -> None:
    """Consume jobs. LLM calls are slow I/O, so runs share one process on a threads pool."""
    from worker.app import app

    argv = [
        "worker",
        "--pool",
        "threads",
        "--concurrency",
        str(concurrency),
        "--queues",
        queues,
        "--loglevel",
        loglevel,
    ]
    if beat:
        argv.append("--beat")
    if hostname:
        argv += ["--hostname", hostname]
    app.worker_main(argv)
