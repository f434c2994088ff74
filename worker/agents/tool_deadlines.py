"""A tool call that never returns must not hold its worker slot (issue 11, defect 4).

Celery's threads pool ignores time limits, and a Python thread cannot be stopped, so a tool
runs in a thread of its own and the run waits for it at most the call's deadline. Past it the
run goes on without the tool: the thread is left to finish or hang on its own (a daemon, so
it never keeps the process alive), and whatever it would still write is refused by the
``Abandonment`` it shares with the run: a database tool's transaction commits only while the
call is not abandoned, under the same lock that abandons it.
"""

from __future__ import annotations

import contextvars
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, TypeVar

T = TypeVar("T")

log = logging.getLogger(__name__)


class CallAbandoned(Exception):
    """The run stopped waiting for this call; it must not record anything more."""


class CallTimedOut(Exception):
    """The call did not return within its deadline."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"did not return within {seconds:g} s")
        self.seconds = seconds


class Abandonment:
    """Shared by a call and the run waiting for it: once abandoned, the call's last writes
    (guarded by ``unless_abandoned``) are refused; once they began, abandoning waits for
    them and reports that they happened."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._abandoned = False
        self._finished = False

    @contextmanager
    def unless_abandoned(self) -> Iterator[None]:
        """Run the block only if the call is not abandoned; abandoning waits for it."""
        with self._lock:
            if self._abandoned:
                raise CallAbandoned()
            yield
            self._finished = True

    def abandon(self) -> bool:
        """Abandon the call; False if its guarded writes already happened (too late)."""
        with self._lock:
            self._abandoned = not self._finished
            return self._abandoned


class _Result(Generic[T]):
    value: T
    error: BaseException | None = None


def call_within(
    seconds: float | None,
    function: Callable[[Abandonment], T],
    *,
    name: str,
) -> T:
    """``function(abandonment)``, in a thread of its own; raises ``CallTimedOut`` when it
    has not returned after ``seconds`` (None: wait as long as it takes, in this thread)."""
    abandonment = Abandonment()
    if seconds is None:
        return function(abandonment)
    result: _Result[T] = _Result()
    done = threading.Event()

    def target() -> None:
        try:
            result.value = function(abandonment)
        except BaseException as error:  # handed to the waiting run, which re-raises it
            result.error = error
        finally:
            done.set()

    context = contextvars.copy_context()  # the run's log context goes with the call
    thread = threading.Thread(target=context.run, args=(target,), name=f"tool-{name}", daemon=True)
    thread.start()
    if not done.wait(seconds) and abandonment.abandon():
        log.warning("tool %s did not return within %g s; its thread is abandoned", name, seconds)
        raise CallTimedOut(seconds)
    done.wait()  # finished, or its guarded writes had already happened: it is about to return
    if result.error is not None:
        raise result.error
    return result.value
