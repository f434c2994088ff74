"""``python -m tests.bench.traced_worker -A worker.app worker …``: our worker, exactly as
``celery`` starts it, with tracing on to an in-memory exporter (the bench's "tracing on":
every span is made, processed in batches and kept, none sent anywhere). At exit it prints
how many spans it finished, so the bench can show that they were made."""

from __future__ import annotations

import atexit
import sys

from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from worker.core import tracing
from worker.core.settings import get_settings


def main() -> None:
    memory = InMemorySpanExporter()
    tracing.configure(get_settings(), exporter=memory)

    def report() -> None:
        tracing.flush()
        print(f"traced_worker: {len(memory.get_finished_spans())} spans", flush=True)

    atexit.register(report)
    from celery.__main__ import main as celery

    sys.argv = ["celery", *sys.argv[1:]]
    celery()


if __name__ == "__main__":
    main()
