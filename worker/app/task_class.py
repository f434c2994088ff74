"""What Celery shows of our tasks is redacted: Flower and ``celery inspect`` never see secrets.

Flower reads arguments from task-received events (the request's ``argsrepr`` / ``kwargsrepr``)
and from the workers' ``active``, ``reserved`` and ``scheduled`` inspect replies, which Celery
builds from ``Request.info()`` and the raw arguments, ignoring any ``kwargsrepr`` the sender
set. So the worker redacts at the source, for every message, whoever sent it (our client or a
foreign ``send_task``): arguments, results, exceptions and tracebacks, with the same rules as
events and logs (secret-looking keys and values, and the worker's own environment secrets).
"""

from __future__ import annotations

from typing import Any

from celery import Task
from celery.utils.saferepr import saferepr
from celery.worker.request import Request

from worker.durable.records import scrub, scrub_text

_REDACTED_EVENT_FIELDS = ("args", "kwargs", "result", "exception", "traceback")


class RedactingRequest(Request):
    @property
    def argsrepr(self) -> str:
        return saferepr(scrub(list(self.args or ())))

    @property
    def kwargsrepr(self) -> str:
        return saferepr(scrub(dict(self.kwargs or {})))

    def info(self, safe: bool = False) -> dict[str, Any]:
        info = super().info(safe=safe)
        info["args"] = self.argsrepr if safe else scrub(list(self.args or ()))
        info["kwargs"] = self.kwargsrepr if safe else scrub(dict(self.kwargs or {}))
        return info

    def send_event(self, type: str, **fields: Any) -> None:
        for name in _REDACTED_EVENT_FIELDS:
            value = fields.get(name)
            if isinstance(value, str):
                fields[name] = scrub_text(value)
            elif value is not None:
                fields[name] = scrub(value)
        super().send_event(type, **fields)


class AgentWorkerTask(Task):  # type: ignore[misc]
    Request = RedactingRequest
