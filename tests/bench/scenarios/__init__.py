"""The throughput scenarios (a), (b0), (b) and (c), one benchmark run each: publish every task
first, then start the worker processes, so that start-up is outside the measured window (first
task start to last completion).

A run's ``concurrency`` is its total: ``processes`` workers of ``per_process(concurrency,
processes)`` threads each (one process uses at most one CPU, however many threads it has).

``bare_runs`` runs bare Celery, ``agent_runs`` our worker; both are given a ``context.Context``,
return a ``result.RunResult`` and measure with ``measure``. The workflow scenarios
(``tests.bench.workflows``) use the same pieces.
"""
