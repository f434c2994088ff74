"""A deadline for one LLM attempt as a whole, enforced on the socket.

The openai SDK's ``timeout`` becomes httpx timeouts, which bound each connect, write and read
on its own: a provider that sends a byte every few seconds keeps an attempt alive forever.
Inside ``attempt_deadline(instant)`` (a ``time.monotonic()`` instant), every socket operation
of the calls made on this thread may wait at most until that instant; one that would start
after it fails at once with a timeout, which the SDK reports as ``APITimeoutError``.

The clamp is a network backend wrapped around the connection pool's own, installed by
``with_attempt_deadlines`` into the transport the gateway builds (httpcore's ``network_backend``
hook; the transport keeps its pool private, hence the one attribute reached into).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

try:  # the openai SDK's HTTP library: httpx2 / httpcore2 in openai 3, httpx / httpcore before
    import httpcore2 as httpcore
    import httpx2 as httpx
except ImportError:  # pragma: no cover - older openai
    import httpcore  # type: ignore[no-redef]
    import httpx  # type: ignore[no-redef]

_DEADLINE: ContextVar[float | None] = ContextVar("llm_attempt_deadline", default=None)


@contextmanager
def attempt_deadline(instant: float) -> Iterator[None]:
    """No socket operation of this thread's HTTP calls waits past ``instant`` while inside."""
    token = _DEADLINE.set(instant)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


def with_attempt_deadlines(limits: Any) -> Any:
    """An HTTP transport (for ``http_client=``) whose sockets obey ``attempt_deadline``."""
    transport = httpx.HTTPTransport(limits=limits)
    pool = getattr(transport, "_pool", None)
    if pool is None or getattr(pool, "_network_backend", None) is None:  # pragma: no cover
        raise RuntimeError(  # a new httpx layout: fail loudly rather than leave calls unbounded
            "cannot bound LLM attempts: this httpx transport has no pool network backend; "
            "pin the openai / httpx versions in pyproject.toml"
        )
    pool._network_backend = _DeadlineBackend(pool._network_backend)
    return transport


def _time_left(timeout: float | None, expired: type[Exception]) -> float | None:
    deadline = _DEADLINE.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise expired("the LLM attempt's deadline has passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        data: bytes = self._inner.read(max_bytes, _time_left(timeout, httpcore.ReadTimeout))
        return data

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _time_left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None
    ) -> Any:
        left = _time_left(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, left))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> Any:
        left = _time_left(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(
            self._inner.connect_tcp(host, port, left, local_address, socket_options)
        )

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> Any:
        left = _time_left(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.connect_unix_socket(path, left, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)
