"""The ``agentworker`` command: a thin layer over the service functions.

Exit codes: 0 success, 1 the operation failed, 2 bad usage or configuration.
"""

from __future__ import annotations

import sys

import click

from worker.cli.approvals import approvals, cancel
from worker.cli.database import migrate, seed
from worker.cli.demo import demo
from worker.cli.dev import dev
from worker.cli.health import health
from worker.cli.keys import keys
from worker.cli.knowledge import knowledge
from worker.cli.metrics import metrics
from worker.cli.tasks import events, status, submit
from worker.cli.worker import worker
from worker.cli.workflows import workflows
from worker.errors import AgentWorkerError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """agentworker: Celery workers that run AI agents and persist every step."""


for command in (
    migrate,
    seed,
    submit,
    status,
    events,
    knowledge,
    workflows,
    approvals,
    cancel,
    worker,
    demo,
    dev,
    metrics,
    health,
    keys,
):
    cli.add_command(command)


def main() -> None:
    try:
        cli(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except AgentWorkerError as error:
        click.echo(f"error: {error}", err=True)
        sys.exit(2 if error.code in {"configuration", "schema_out_of_date"} else 1)
