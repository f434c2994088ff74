"""A retry whose publish fails (broker down) requeues the message instead of dropping it.

Celery's ``Task.retry`` raises ``Reject(requeue=False)`` then: for a foreign job whose row had
not committed yet (``agents.run_task`` retried on a database error), the job was gone. The
tasks here have names of their own: a second callable under a real task's name would warn in
whichever later test finalizes the apps."""

from __future__ import annotations

from typing import Any

import pytest
from celery import Celery
from celery.exceptions import Reject
from kombu.exceptions import OperationalError

from worker.app.task_class import AgentWorkerTask


def test_a_retry_that_cannot_be_published_requeues_the_message(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    app = Celery("retry-test-requeued", task_cls=AgentWorkerTask, set_as_current=False)

    @app.task(name="retry_test.requeued", bind=True, max_retries=10)
    def run_task(self: Any, **payload: Any) -> None:
        raise AssertionError("not run")

    def broker_down(*_: Any, **__: Any) -> None:
        raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    monkeypatch.setattr(app, "send_task", broker_down)
    run_task.push_request(id="m-1", kwargs={"tenant": "t"}, called_directly=False, retries=0)
    try:
        with pytest.raises(Reject) as rejected:
            run_task.retry(exc=RuntimeError("database unreachable"), countdown=1)
    finally:
        run_task.pop_request()
    assert rejected.value.requeue is True


def test_a_retry_refused_for_another_reason_is_still_dropped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Not the broker's absence (it would fail again on every redelivery): Celery's answer."""
    app = Celery("retry-test-dropped", task_cls=AgentWorkerTask, set_as_current=False)

    @app.task(name="retry_test.dropped", bind=True, max_retries=10)
    def run_task(self: Any, **payload: Any) -> None:
        raise AssertionError("not run")

    def unpublishable(*_: Any, **__: Any) -> None:
        raise TypeError("Object of type bytes is not JSON serializable")

    monkeypatch.setattr(app, "send_task", unpublishable)
    run_task.push_request(id="m-2", kwargs={"tenant": "t"}, called_directly=False, retries=0)
    try:
        with pytest.raises(Reject) as rejected:
            run_task.retry(exc=RuntimeError("database unreachable"), countdown=1)
    finally:
        run_task.pop_request()
    assert rejected.value.requeue is False
