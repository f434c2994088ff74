"""``agentworker dev`` (``make dev``): the whole stack on this machine until Ctrl-C.

Embedded PostgreSQL + pgvector and Redis where ``DATABASE_URL`` / ``REDIS_URL`` are unset, with
their data in ``.agentworker/`` (ignored by git), so a restart keeps it; migrations; the demo
seed; the local LLM server when no provider is configured (or AGENTWORKER_LOCAL_LLM=1 asks for
it), its workers told so with AGENTWORKER_LOCAL_LLM=1; a worker with beat; Flower with basic
auth; the metrics endpoint; the HTTP API with the approvers' inbox, whose URL is printed with
a demo approver's sign-in (a fresh password at every start).
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import threading
from pathlib import Path
from types import FrameType

import click

from models.db import create_sync_engine, sync_session_factory
from worker.app import create_app
from worker.cli.demo_approver import demo_approver_sign_in
from worker.dev.api_process import (
    ApiProcess,
    start_api_process,
    wait_for_api,
)
from worker.dev.seed import seed_demo
from worker.dev.services import (
    LocalServices,
    free_port,
    local_services,
    start_worker_process,
    stop_process,
    wait_for_worker,
)
from worker.durable import schema
from worker.ops.metrics import MetricsServer, serve_metrics


@click.command()
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path(".agentworker"),
    show_default=True,
)
@click.option("--concurrency", type=click.IntRange(1, 1000), default=16, show_default=True)
@click.option(
    "--flower-port", type=int, default=5555, show_default=True, help="0 picks a free port."
)
@click.option(
    "--metrics-port", type=int, default=9464, show_default=True, help="0 picks a free port."
)
@click.option(
    "--api-port",
    type=int,
    default=8000,
    show_default=True,
    help="The HTTP API and the inbox; 0 picks a free port.",
)
def dev(
    data_dir: Path, concurrency: int, flower_port: int, metrics_port: int, api_port: int
) -> None:
    """Run the whole stack locally until Ctrl-C; data is kept for the next start."""
    data_dir = data_dir.resolve()
    (data_dir / "logs").mkdir(parents=True, exist_ok=True)
    stop = threading.Event()

    def request_stop(signum: int, _: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    flower_auth = os.environ.get("FLOWER_BASIC_AUTH") or f"admin:{secrets.token_urlsafe(12)}"
    with local_services(data_dir, persistent=True) as services:
        schema.upgrade(services.database_url)
        engine = create_sync_engine(services.database_url)
        with sync_session_factory(engine)() as session:
            seed_demo(session)
        sign_in = demo_approver_sign_in(engine)
        env = services.worker_env()
        worker = start_worker_process(
            env, data_dir / "logs" / "worker.log", concurrency=concurrency, beat=True
        )
        flower_port = flower_port or free_port()
        with (data_dir / "logs" / "flower.log").open("ab") as flower_log:
            flower = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "worker.app",
                    "flower",
                    f"--port={flower_port}",
                    "--address=127.0.0.1",
                    f"--basic_auth={flower_auth}",
                    "--persistent=True",
                    f"--db={data_dir / 'flower.db'}",
                ],
                env=env,
                stdout=flower_log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        metrics = serve_metrics(engine, "127.0.0.1", metrics_port)
        api_log = data_dir / "logs" / "api.log"
        api = start_api_process(env, api_log, api_port or free_port())
        try:
            wait_for_worker(
                create_app(services.broker_url), worker, data_dir / "logs" / "worker.log"
            )
            wait_for_api(api, api_log)
            _print_urls(services, flower_port, flower_auth, metrics, api, sign_in, data_dir)
            while not stop.wait(0.5):
                if worker.poll() is not None:
                    raise click.ClickException(
                        f"the worker exited ({worker.returncode}); see {data_dir}/logs"
                    )
                if api.process.poll() is not None:
                    raise click.ClickException(
                        f"the API exited ({api.process.returncode}); see {api_log}"
                    )
        finally:
            click.echo("stopping ...")
            stop_process(api.process)  # child processes first: nothing else may leave them behind
            stop_process(flower)
            stop_process(worker)
            metrics.close()
            engine.dispose()
    click.echo("stopped; data kept in " + str(data_dir))


def _print_urls(
    services: LocalServices,
    flower_port: int,
    flower_auth: str,
    metrics: MetricsServer,
    api: ApiProcess,
    sign_in: tuple[str, str],
    data_dir: Path,
) -> None:
    user, _, password = flower_auth.partition(":")
    lines = [
        "agentworker dev is ready (Ctrl-C stops it)",
        f"  Flower     http://127.0.0.1:{flower_port}  (user {user}, password {password})",
    ]
    lines.append(f"  metrics    {metrics.url}")
    lines.append(f"  API        {api.url}  (OpenAPI at {api.url}/docs)")
    lines.append(f"  inbox      {api.inbox_url}  (sign in as {sign_in[0]}, password {sign_in[1]})")
    lines += [
        f"  logs       {data_dir / 'logs'}",
        "  in another shell:",
        f"    export DATABASE_URL='{services.runtime_database_url or services.database_url}'",
        f"    export AGENTWORKER_MIGRATION_DATABASE_URL='{services.database_url}'",
        f"    export CELERY_BROKER_URL='{services.broker_url}'",
    ]
    if services.llm_base_url:
        lines.append(f"    export OPENAI_BASE_URL='{services.llm_base_url}'")
        lines.append("    export AGENTWORKER_LOCAL_LLM=1")
    lines.append("    agentworker submit --tenant acme --agent assistant --input 'hello' --wait")
    click.echo("\n".join(lines), nl=True)
    sys.stdout.flush()
