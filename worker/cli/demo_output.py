"""How the demos speak: a bold step line, and an ``agentworker`` command run as the user
would run it, its output indented."""

from __future__ import annotations

import subprocess
import sys

import click


def step(text: str) -> None:
    click.echo(click.style(f"==> {text}", bold=True))


def run_cli(env: dict[str, str], *args: str, may_fail: bool = False) -> str:
    """Run ``agentworker ARGS`` in ``env``, echo it and its output; a failure stops the demo
    unless ``may_fail`` (a refusal the demo shows on purpose). Returns the output."""
    click.echo(click.style(f"    $ agentworker {' '.join(args)}", dim=True))
    done = subprocess.run(
        [sys.executable, "-c", "from worker.cli import main; main()", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    output = (done.stdout + done.stderr).rstrip()
    for line in output.splitlines():
        click.echo(f"    {line}")
    if done.returncode != 0 and not may_fail:
        raise click.ClickException(f"agentworker {args[0]} {args[1]} failed")
    return output
