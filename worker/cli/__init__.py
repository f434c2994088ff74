"""The ``agentworker`` command: a thin layer over the service functions.

Commands are imported only when used, so a quick command (``health --liveness``, ``--help``)
does not pay for the whole application's imports.

Exit codes: 0 success, 1 the operation failed, 2 bad usage or configuration. Errors that mean
"not configured" or "cannot reach a service" are answered here, once for every command, in one
line that says what to do (``worker.cli.failures``); any other error keeps its traceback.
"""

from __future__ import annotations

import importlib
import sys

import click

from worker.cli.failures import explain

#: command name -> "module:attribute"
COMMANDS = {
    "api": "worker.cli.api:api",
    "migrate": "worker.cli.database:migrate",
    "seed": "worker.cli.demo:seed",
    "submit": "worker.cli.tasks:submit",
    "status": "worker.cli.tasks:status",
    "events": "worker.cli.tasks:events",
    "runs": "worker.cli.runs:runs",
    "knowledge": "worker.cli.knowledge:knowledge",
    "workflows": "worker.cli.workflows:workflows",
    "approvals": "worker.cli.approvals:approvals",
    "cancel": "worker.cli.tasks:cancel",
    "dead-letters": "worker.cli.dead_letters:dead_letters",
    "worker": "worker.cli.worker:worker",
    "demo": "worker.cli.demo:demo",
    "dev": "worker.cli.dev:dev",
    "metrics": "worker.cli.metrics:metrics",
    "health": "worker.cli.health:health",
    "keys": "worker.cli.keys:keys",
    "schemas": "worker.cli.schemas:schemas",
    "users": "worker.cli.users:users",
    "tenants": "worker.cli.tenants:tenants",
    "webhooks": "worker.cli.webhooks:webhooks",
    "rules": "worker.cli.rules:rules",
    "retention": "worker.cli.retention:retention",
    "budgets": "worker.cli.budgets:budgets",
    "recommendations": "worker.cli.recommendations:recommendations",
    "pipeline": "worker.cli.pipeline:pipeline",
    "interviews": "worker.cli.pipeline:interviews",
    "board": "worker.cli.pipeline:board",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, _, attribute = target.partition(":")
        command = getattr(importlib.import_module(module), attribute)
        assert isinstance(command, click.Command)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """agentworker: Celery workers that run AI agents and persist every step."""


def main() -> None:
    try:
        cli(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    except Exception as error:
        failure = explain(error)
        if failure is None:
            raise
        click.echo(f"error: {failure.message}", err=True)
        sys.exit(failure.exit_code)
