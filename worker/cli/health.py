"""``agentworker health``: liveness and readiness for operators and container healthchecks.

Exit codes: 0 live / ready, 1 not ready, 2 bad configuration.
"""

from __future__ import annotations

import sys
from typing import NoReturn

import click

from worker.cli.output import as_json
from worker.core.errors import ConfigurationError
from worker.core.settings import Settings
from worker.ops.health import (
    DEFAULT_TIMEOUT_SECONDS,
    Check,
    Readiness,
    check_liveness,
    check_readiness,
    check_worker_liveness,
)


@click.command()
@click.option(
    "--liveness",
    is_flag=True,
    help="Only check that this process can import the code and read its settings.",
)
@click.option(
    "--no-worker",
    is_flag=True,
    help="Do not require a worker to answer a ping (for the worker's own container).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(0.1, 300),
    default=DEFAULT_TIMEOUT_SECONDS,
    show_default=True,
    help="Seconds each check may take.",
)
@click.option(
    "--worker",
    "worker_marks",
    is_flag=True,
    help="With --liveness: also check that this host's worker processes show life (their "
    "consumer loop and lease heartbeat), for a worker container's healthcheck.",
)
@click.option("--json", "as_json_output", is_flag=True, help="Print the result as JSON.")
def health(
    liveness: bool, no_worker: bool, timeout: float, worker_marks: bool, as_json_output: bool
) -> None:
    """Check the broker, the database (and its schema) and the workers."""
    if liveness:
        from worker.app import TASK_MODULES

        checks = [check_liveness(TASK_MODULES)]
        if worker_marks and checks[0].ok:
            checks.append(check_worker_liveness(Settings.from_env()))
        _report(Readiness(tuple(checks)), as_json_output)
    try:
        settings = Settings.from_env()
    except ConfigurationError as error:
        check = Check("settings", False, str(error), configuration=True)
        _report(Readiness((check,)), as_json_output)
    _report(check_readiness(settings, worker=not no_worker, timeout=timeout), as_json_output)


def _report(readiness: Readiness, json_output: bool) -> NoReturn:
    """Print one line per check (or JSON) and exit 0 ready, 1 not ready, 2 misconfigured."""
    if json_output:
        click.echo(as_json({"ready": readiness.ready, "checks": list(readiness.checks)}))
    else:
        for check in readiness.checks:
            if check.ok:
                click.echo(f"{click.style('ok', fg='green')} {check.name} {check.detail}")
            else:
                click.echo(f"{click.style('FAIL', fg='red')} {check.name}: {check.detail}")
    # sys.exit, not ctx.exit: the group runs with standalone_mode=False, where click would
    # return ctx.exit's code instead of exiting with it.
    sys.exit(0 if readiness.ready else 2 if readiness.misconfigured else 1)
