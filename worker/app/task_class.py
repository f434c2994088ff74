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
from celery.exceptions import Reject
from celery.signals import task_internal_error, task_unknown
from celery.utils.saferepr import saferepr
from celery.worker.request import Request
from kombu.exceptions import OperationalError as KombuOperationalError

from worker.app.dead_letters import record_dead_letter
from worker.security.redact import scrub, scrub_text

_REDACTED_EVENT_FIELDS = ("args", "kwargs", "result", "exception", "traceback")


class RedactingRequest(Request):
    @property
    def argsrepr(self) -> str:
        return saferepr(scrub(self.args or ()))

    @property
    def kwargsrepr(self) -> str:
        # Any shape: a message whose kwargs are not an object must not crash the consumer.
        return saferepr(scrub(self.kwargs if self.kwargs is not None else {}))

    def info(self, safe: bool = False) -> dict[str, Any]:
        info = super().info(safe=safe)
        info["args"] = self.argsrepr if safe else scrub(self.args or ())
        info["kwargs"] = self.kwargsrepr if safe else scrub(self.kwargs or {})
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

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if args:  # the contract is kwargs only: a positional call would bind the wrong names
            raise TypeError(
                f"{self.name} takes keyword arguments only (a JSON object); got {len(args)} "
                "positional argument(s): send kwargs={...}"
            )
        return super().__call__(**kwargs)

    def retry(self, *args: Any, **kwargs: Any) -> Any:
        """Celery's retry publishes the retry and, when that publish fails (the broker is
        down too), raises ``Reject(requeue=False)``: the message is acked away. For a foreign
        job whose row had not yet committed (the database down as well) that is the only copy
        of the job, lost. Requeue it instead: redelivered (or, if Redis cannot even take it
        back, handed out again after the visibility timeout), it is claimed once. Only for a
        broker that could not be reached: any other publish error would recur on every
        redelivery."""
        try:
            return super().retry(*args, **kwargs)
        except Reject as reject:
            if reject.requeue or not isinstance(reject.reason, KombuOperationalError | OSError):
                raise
            raise Reject(reject.reason, requeue=True) from reject

    def on_failure(
        self, exc: BaseException, task_id: str, args: Any, kwargs: Any, einfo: Any
    ) -> None:
        """The handler raised (or the message did not fit the call): keep the message."""
        record_dead_letter(
            task=self.name,
            message_id=task_id,
            args=args,
            kwargs=kwargs,
            kind="failed",
            error=f"{type(exc).__name__}: {exc}",
        )


@task_unknown.connect(weak=False, dispatch_uid="agentworker.dead_letters.unknown")
def _on_unknown_task(
    name: str | None = None, id: str | None = None, message: Any = None, **_: Any
) -> None:
    try:
        args, kwargs, _embed = message.decode()
    except Exception:  # the body itself is unreadable: keep what the headers say
        args, kwargs = None, None
    record_dead_letter(
        task=str(name),
        message_id=id,
        args=args,
        kwargs=kwargs,
        kind="unknown_task",
        error=f"no task named '{name}' here; known tasks are listed in the README",
    )


@task_internal_error.connect(weak=False, dispatch_uid="agentworker.dead_letters.internal")
def _on_internal_error(
    sender: Any = None,
    task_id: str | None = None,
    args: Any = None,
    kwargs: Any = None,
    exception: BaseException | None = None,
    **_: Any,
) -> None:
    """Celery refused the message before our code ran (kwargs that are not an object)."""
    record_dead_letter(
        task=str(getattr(sender, "name", sender)),
        message_id=task_id,
        args=args,
        kwargs=kwargs,
        kind="refused",
        error=f"{type(exception).__name__}: {exception}",
    )
