"""What Celery beat does for a worker, from a thread of the test: publish ``maintenance.reap``
and ``maintenance.expire_approvals`` on a schedule, so the worker runs the reaper and the
expiry sweep as in production (with no beat process to outlive a SIGKILLed worker)."""

from __future__ import annotations

import contextlib
import threading
import time
from typing import Any


class Ticker:
    def __init__(self, app: Any, *, reap_every: float = 1.0, expire_every: float = 0.5) -> None:
        self.app = app
        self.schedule = {
            "maintenance.reap": reap_every,
            "maintenance.expire_approvals": expire_every,
        }
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="ticker", daemon=True)

    def start(self) -> Ticker:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(10)

    def _loop(self) -> None:
        due = dict.fromkeys(self.schedule, time.monotonic())
        while not self._stopping.wait(0.1):
            now = time.monotonic()
            for name, every in self.schedule.items():
                if now >= due[name]:
                    due[name] = now + every
                    with contextlib.suppress(Exception):  # the broker may be down on purpose
                        self.app.send_task(name, queue="maintenance", expires=60)
