"""Advancing a workflow execution, as the ``workflows.advance`` message does, from any process.

``advance_or_fail`` is the message's meaning: advance, and fail the execution on an error that
would recur on every retry; the database or the broker being unreachable is raised. Both the
message's handler and ``advancing_here`` use it. ``advancing_here`` wraps a publisher so that a
``workflows.advance`` it is asked to send is carried out in this process instead: a decided
approval's next step starts without a trip through the broker, and without waiting behind the
agent runs already queued for the workers. The execution row's lock makes it move once either
way; a crash before it is the reaper's lost wake.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

import sqlalchemy as sa
from kombu.exceptions import OperationalError as KombuOperationalError

from worker.core.contract import ADVANCE_WORKFLOW
from worker.core.errors import AgentWorkerError
from worker.durable.publishing import HandledHere, Publisher
from worker.workflows.cancellation import fail_execution
from worker.workflows.catalog import ExecutionNotFound
from worker.workflows.engine import advance

__all__ = ["advance_or_fail", "advancing_here"]

log = logging.getLogger(__name__)


def advance_or_fail(engine: sa.Engine, publisher: Publisher, execution_id: uuid.UUID) -> str:
    """Advance ``execution_id``; an error that is not the database's or the broker's (an
    agent that no longer exists, a bad template) would recur on every retry and every reaper
    pass: it fails the execution, with the error as its reason. Returns the status."""
    try:
        return advance(engine, publisher, execution_id)
    except (sa.exc.OperationalError, sa.exc.InterfaceError):
        raise  # the database is unreachable: the message is retried
    except KombuOperationalError:
        # The broker is unreachable (publishing the next step's message): transient too. The
        # state is committed; the reaper re-publishes the lost wake-up once the broker is back.
        raise
    except ExecutionNotFound:
        raise
    except Exception as error:
        reason = (
            str(error)
            if isinstance(error, AgentWorkerError)
            else (f"internal error: {type(error).__name__}: {error}")
        )
        log.warning("execution %s: advance failed: %s", execution_id, reason, exc_info=True)
        return fail_execution(engine, execution_id, reason)


def advancing_here(engine: sa.Engine, publisher: Publisher) -> Publisher:
    """``publisher``, except that a ``workflows.advance`` is carried out in this process (its
    next step's task is still published through ``publisher``, for any worker)."""

    def advance_message(kwargs: dict[str, Any]) -> None:
        advance_or_fail(engine, publisher, uuid.UUID(str(kwargs["execution_id"])))

    return HandledHere(publisher, {ADVANCE_WORKFLOW: advance_message})
