"""The LangGraph peer, run inside ``.bench-venvs/langgraph``:
``python -m tests.bench.peers.langgraph_app``.

A ``StateGraph`` with an LLM node and a tool node, the usual agent loop (llm -> tool -> llm ->
end), compiled with ``PostgresSaver`` over a psycopg pool configured as the checkpointer's docs
say (autocommit, ``prepare_threshold=0``, ``dict_row``); each run is ``invoke``d with
``durability="sync"`` (every super-step's checkpoint written before the next step starts) and a
thread id of its own. LangGraph has no queue: a thread pool per process drives the runs.

  setup URL                             create the checkpointer's tables (``setup()``), exit
  run URL INDEX PROCESSES RUNS THREADS  runs INDEX, INDEX+PROCESSES, ... of RUNS; prints "ready",
                                        starts on "go", prints the JSON figures, exits on "stop"
"""

from __future__ import annotations

import json
import operator
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated, Any, TypedDict

from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.graph import END, START, StateGraph
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool

from tests.bench.peers import agent_calls

THREAD_PREFIX = "bench-run-"


class State(TypedDict):
    messages: Annotated[list[dict[str, Any]], operator.add]


def llm(state: State) -> dict[str, Any]:
    return {"messages": [agent_calls.chat(state["messages"])]}


def tool(state: State) -> dict[str, Any]:
    call = state["messages"][-1]["tool_calls"][0]
    return {"messages": [agent_calls.tool_message(call)]}


def route(state: State) -> str:
    return "tool" if state["messages"][-1].get("tool_calls") else END


def build(saver: PostgresSaver) -> Any:
    graph = StateGraph(State)
    graph.add_node("llm", llm)
    graph.add_node("tool", tool)
    graph.add_edge(START, "llm")
    graph.add_conditional_edges("llm", route, ["tool", END])
    graph.add_edge("tool", "llm")
    return graph.compile(checkpointer=saver)


def _pool(url: str, size: int) -> ConnectionPool:
    return ConnectionPool(
        url,
        min_size=size,
        max_size=size,
        kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
        open=True,
    )


def setup(url: str) -> None:
    with _pool(url, 1) as pool:
        PostgresSaver(pool).setup()  # type: ignore[arg-type]


def run(url: str, index: int, processes: int, runs: int, threads: int) -> None:
    mine = list(range(index, runs, processes))
    with _pool(url, threads) as pool:
        app = build(PostgresSaver(pool))  # type: ignore[arg-type]
        spans: list[tuple[float, float]] = []
        errors: list[str] = []

        def one(number: int) -> None:
            start = time.time()
            try:
                state = app.invoke(
                    {"messages": agent_calls.first_messages(number)},
                    {"configurable": {"thread_id": f"{THREAD_PREFIX}{number}"}},
                    durability="sync",
                )
                if state["messages"][-1].get("content") is None:
                    raise RuntimeError(f"run {number} ended without text: {state['messages']}")
            except Exception as error:  # counted and reported: the driver fails the scenario
                errors.append(f"run {number}: {type(error).__name__}: {error}")
                return
            spans.append((start, time.time()))

        print("ready", flush=True)
        agent_calls.wait_for_line("go")
        with ThreadPoolExecutor(threads, thread_name_prefix="bench-run") as executor:
            list(executor.map(one, mine))
        figures = {
            "runs": len(mine),
            "done": len(spans),
            "first_start": min((s for s, _ in spans), default=None),
            "last_finish": max((e for _, e in spans), default=None),
            "errors": errors[:5],
            "error_count": len(errors),
        }
        print("result " + json.dumps(figures), flush=True)
        agent_calls.wait_for_line("stop")


def main(argv: list[str]) -> None:
    command, url, *rest = argv
    if command == "setup":
        setup(url)
    elif command == "run":
        index, processes, runs, threads = map(int, rest)
        run(url, index, processes, runs, threads)
    else:
        raise SystemExit(f"unknown command {command!r}: setup or run")


if __name__ == "__main__":
    main(sys.argv[1:])
