"""``agentworker worker``: Celery workers with the right pool and concurrency.

Refuses to start (exit 2, one line) when no LLM provider is configured anywhere
(``worker.app.process.start_refusal``). LLM calls are slow I/O, so runs share a process on a
threads pool. One Python process uses one core at most (the GIL), so ``--processes N`` starts N
such workers (the first also runs beat if asked) and stops them together.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from types import FrameType

import click

from worker.core.errors import ConfigurationError


def _celery_argv(
    concurrency: int, queues: str, loglevel: str, hostname: str | None, beat: bool
) -> list[str]:
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
    return argv


@click.command()
@click.option(
    "--concurrency",
    "-c",
    type=click.IntRange(1, 1000),
    envvar="AGENTWORKER_CONCURRENCY",
    default=32,
    show_default=True,
    help="Runs in flight per process (threads).",
)
@click.option(
    "--processes",
    "-p",
    type=click.IntRange(1, 64),
    envvar="AGENTWORKER_PROCESSES",
    default=1,
    show_default=True,
    help="Worker processes (use up to one per core).",
)
@click.option("--queues", "-Q", default="agents,workflows,maintenance,celery", show_default=True)
@click.option("--beat", is_flag=True, help="Also run the beat scheduler (one per deployment).")
@click.option("--loglevel", "-l", envvar="LOG_LEVEL", default="INFO", show_default=True)
@click.option("--hostname", "-n", default=None, help="Worker node name (default: celery's).")
def worker(
    concurrency: int, processes: int, queues: str, beat: bool, loglevel: str, hostname: str | None
) -> None:
    """Consume jobs."""
    if processes == 1:
        from worker.app import app

        # The worker refuses, before it consumes, when no provider is configured (worker_init).
        app.worker_main(_celery_argv(concurrency, queues, loglevel, hostname, beat))
        return
    from worker.app.process import start_refusal

    refusal = start_refusal()  # once here, so N processes do not print it N times
    if refusal is not None:
        raise ConfigurationError(refusal)  # the CLI prints "error: ..." and exits 2
    base = hostname or "agentworker@%h"
    name, _, host = base.partition("@")
    children = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "worker.app",
                *_celery_argv(
                    concurrency, queues, loglevel, f"{name}-{i}@{host or '%h'}", beat and i == 0
                ),
            ]
        )
        for i in range(processes)
    ]

    def forward(signum: int, _: FrameType | None) -> None:
        for child in children:
            if child.poll() is None:
                child.send_signal(signum)

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, forward)
    codes = [child.wait() for child in children]
    sys.exit(max(codes, key=abs) if any(codes) else 0)
