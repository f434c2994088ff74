"""The HTTP API on a real uvicorn server in a thread of this process, on a free port: for the
API benchmark and the tests that need real HTTP (streams, many concurrent clients)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator

import httpx
import uvicorn
from fastapi import FastAPI

from worker.dev.services import free_port

START_SECONDS = 20.0


@contextlib.contextmanager
def serve(app: FastAPI, *, backlog: int = 2048) -> Iterator[str]:
    """Serve ``app``; yield its base URL; stop it (open streams are cut) on exit."""
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        backlog=backlog,
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"uvicorn:{port}", daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"uvicorn did not start on port {port} in {START_SECONDS:g}s")
        time.sleep(0.02)
    try:
        httpx.get(f"{base}/healthz", timeout=5).raise_for_status()
        yield base
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        if thread.is_alive():
            server.force_exit = True
            thread.join(timeout=10)
