"""The DBOS peer, run inside ``.bench-venvs/dbos``: ``python -m tests.bench.peers.dbos_app``.

One workflow per run, ``agent_run``: the first LLM call, the tool and the second LLM call are
each a ``@DBOS.step`` (DBOS records each step's output in ``dbos.operation_outputs`` before the
workflow goes on). Runs are enqueued on one DBOS queue, dequeued by worker processes with
``worker_concurrency`` each (every process has its own ``executor_id``, as the docs require for
a per-process limit).

  setup URL RUNS THREADS POLL   launch without listening to any queue, register the queue,
                                enqueue RUNS workflows, exit
  worker URL INDEX THREADS POLL launch, dequeue and run until stdin says "stop"
"""

from __future__ import annotations

import sys
from typing import Any

from dbos import DBOS, DBOSConfig

from tests.bench.peers import agent_calls

QUEUE = "bench-agents"
APP = "bench-dbos"
VERSION = "bench"  # one application version: every executor may dequeue every run


@DBOS.step()
def llm_call(messages: list[dict[str, Any]]) -> dict[str, Any]:
    return agent_calls.chat(messages)


@DBOS.step()
def current_time(call: dict[str, Any]) -> dict[str, Any]:
    return agent_calls.tool_message(call)


@DBOS.workflow()
def agent_run(number: int) -> str:
    messages = agent_calls.first_messages(number)
    first = llm_call(messages)
    calls = first.get("tool_calls") or []
    if not calls:
        raise RuntimeError(f"the first LLM call answered without a tool call: {first}")
    messages += [first, current_time(calls[0])]
    second = llm_call(messages)
    if second.get("content") is None:
        raise RuntimeError(f"the second LLM call answered without text: {second}")
    return str(second["content"])


def _configure(url: str, executor: str, threads: int) -> None:
    config: DBOSConfig = {
        "name": APP,
        "system_database_url": url,
        "application_version": VERSION,
        "executor_id": executor,
        # A connection for every workflow thread, plus the queue poller's and DBOS's own.
        "sys_db_pool_size": threads + 4,
        "max_executor_threads": threads + 8,
        "log_level": "WARNING",
        "enable_otlp": False,
    }
    DBOS(config=config)


def _register(threads: int, poll: float) -> None:
    DBOS.register_queue(
        QUEUE, worker_concurrency=threads, polling_interval_sec=poll, on_conflict="always_update"
    )


def setup(url: str, runs: int, threads: int, poll: float) -> None:
    _configure(url, "bench-setup", threads)
    DBOS.listen_queues([])
    DBOS.launch()
    _register(threads, poll)
    for number in range(runs):
        DBOS.enqueue_workflow(QUEUE, agent_run, number)
    DBOS.destroy()


def worker(url: str, index: int, threads: int, poll: float) -> None:
    _configure(url, f"bench-worker-{index}", threads)
    DBOS.listen_queues([QUEUE])
    DBOS.launch()
    _register(threads, poll)
    print("ready", flush=True)
    agent_calls.wait_for_line("stop")
    DBOS.destroy()


def main(argv: list[str]) -> None:
    command, url, count, threads, poll = argv
    if command == "setup":
        setup(url, int(count), int(threads), float(poll))
    elif command == "worker":
        worker(url, int(count), int(threads), float(poll))
    else:
        raise SystemExit(f"unknown command {command!r}: setup or worker")


if __name__ == "__main__":
    main(sys.argv[1:])
