"""Publishing: commit first, then publish (DESIGN §5.1). The broker is only delivery.

``Publisher`` is what every service that wakes work takes; ``CeleryPublisher`` sends through a
Celery app; ``HandledHere`` carries some messages out in the sending process instead; ``Wake``
is a message decided inside a transaction and sent after its commit.
``publishing_app`` is a Celery app that only sends (no tasks, no worker signal hooks), for
processes that are not workers: the client, the CLI, health checks.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlsplit

from celery import Celery

from worker.core import tracing
from worker.core.broker_tls import configure_broker_tls

log = logging.getLogger(__name__)


class Publisher(Protocol):
    def publish(
        self,
        name: str,
        kwargs: dict[str, Any],
        *,
        task_id: str | None = None,
        countdown: float | None = None,
        priority: int | None = None,
    ) -> str: ...


class CeleryPublisher:
    """Publishes through a Celery app. Our priority is 0 (normal) to 9 (most urgent); Redis
    serves lower numbers first, AMQP higher ones, so the number is mapped per transport."""

    def __init__(self, app: Any) -> None:
        self.app = app
        scheme = urlsplit(str(app.conf.broker_url or "redis://")).scheme
        self._inverted = scheme.startswith(("redis", "rediss", "sentinel"))

    def publish(
        self,
        name: str,
        kwargs: dict[str, Any],
        *,
        task_id: str | None = None,
        countdown: float | None = None,
        priority: int | None = None,
    ) -> str:
        options: dict[str, Any] = {}
        if priority is not None:
            options["priority"] = 9 - priority if self._inverted else priority
        with tracing.publishing(name, task_id=task_id):  # the message carries its context
            result = self.app.send_task(
                name, kwargs=kwargs, task_id=task_id, countdown=countdown, **options
            )
        return str(result.id)


class HandledHere:
    """Publishes as ``inner`` does, except the messages ``handlers`` names: each of those is
    carried out in this process (``handlers[name](kwargs)``), which saves a trip through the
    broker and a wait behind the queue. A handler that raises (the database or the broker is
    unreachable) falls back to sending the message, so a worker takes it up as before."""

    def __init__(
        self, inner: Publisher, handlers: Mapping[str, Callable[[dict[str, Any]], object]]
    ) -> None:
        self.inner = inner
        self.handlers = handlers

    def publish(
        self,
        name: str,
        kwargs: dict[str, Any],
        *,
        task_id: str | None = None,
        countdown: float | None = None,
        priority: int | None = None,
    ) -> str:
        handler = self.handlers.get(name)
        if handler is not None and countdown is None:
            try:
                handler(kwargs)
                return task_id or ""
            except Exception:
                log.warning("%s: carrying it out here failed; publishing it", name, exc_info=True)
        return self.inner.publish(
            name, kwargs, task_id=task_id, countdown=countdown, priority=priority
        )


@dataclass(frozen=True)
class Wake:
    """A message to publish once the transaction that decided something has committed."""

    name: str
    kwargs: dict[str, Any]

    def send(self, publisher: Publisher) -> None:
        publisher.publish(self.name, self.kwargs)


def publishing_app(broker_url: str | None = None) -> Celery:
    """A Celery app with our configuration (``celeryconfig``) that only sends messages."""
    app = Celery("agentworker-publisher")
    app.config_from_object("celeryconfig")
    if broker_url is not None:
        app.conf.broker_url = broker_url
    configure_broker_tls(app)
    return app
