"""The baseline: a minimal Celery app with the settings that matter for throughput set as ours
are (JSON, acks_late, prefetch 1, threads pool, no results, a Redis pool sized to the
concurrency) and nothing else: no events, no priorities, no database.

Each task marks its completion with one Redis round trip (a Lua script): the first start time,
the latest completion time and a done counter, all under the run's own keys, so the driver knows
when the run is over and can compute throughput from the first start to the last completion.

The worker reads ``BENCH_BROKER_URL`` and ``BENCH_CONCURRENCY`` (its own process's threads);
the driver only publishes. tests/bench/bare_llm.py adds the (b0) task to this app.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from celery import Celery

NOOP = "bench.noop"
SLEEP = "bench.sleep"
QUEUE = "bench"

# KEYS: first, last, done; ARGV: start, end. One round trip per task.
_MARK = """
redis.call('SET', KEYS[1], ARGV[1], 'NX')
local last = tonumber(redis.call('GET', KEYS[2]) or '0')
if tonumber(ARGV[2]) > last then redis.call('SET', KEYS[2], ARGV[2]) end
return redis.call('INCR', KEYS[3])
"""


def keys(run: str) -> tuple[str, str, str]:
    return (f"bench:{run}:first", f"bench:{run}:last", f"bench:{run}:done")


def _concurrency() -> int:
    return int(os.environ.get("BENCH_CONCURRENCY") or 32)


def create_app(broker_url: str, concurrency: int = 32) -> Celery:
    app = Celery("bench-bare", broker=broker_url)
    app.conf.update(
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        task_acks_late=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        result_backend=None,
        worker_pool="threads",
        worker_concurrency=concurrency,
        task_default_queue=QUEUE,
        broker_connection_retry_on_startup=True,
        # As in celeryconfig: acks come from the pool's threads (DESIGN §7).
        broker_transport_options={"max_connections": max(64, concurrency * 2)},
    )
    return app


app = create_app(os.environ.get("BENCH_BROKER_URL") or "redis://127.0.0.1:6379/0", _concurrency())

_lock = threading.Lock()
_script: Any = None


def mark(run: str, start: float, end: float) -> None:
    global _script
    if _script is None:
        with _lock:
            if _script is None:
                import redis

                client = redis.Redis.from_url(
                    str(app.conf.broker_url), max_connections=_concurrency() * 2 + 16
                )
                _script = client.register_script(_MARK)
    _script(keys=keys(run), args=[repr(start), repr(end)])


@app.task(name=NOOP)
def noop(run: str) -> None:
    now = time.time()
    mark(run, now, now)


@app.task(name=SLEEP)
def sleep(run: str, seconds: float, times: int) -> None:
    """Stands in for a task that waits on ``times`` LLM calls of ``seconds`` each."""
    start = time.time()
    for _ in range(times):
        time.sleep(seconds)
    mark(run, start, time.time())
