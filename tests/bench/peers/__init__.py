"""Peers in ``make bench``: DBOS Transact and LangGraph (+ langgraph-checkpoint-postgres) doing
(b)'s and (c)'s work (two chat completions through the openai SDK against the local LLM server,
one tool call between them, every step durably recorded) on the same PostgreSQL server.

Each peer is installed in its own virtualenv (``venvs``: ``.bench-venvs/<peer>``, pinned in
``requirements-<peer>.txt``) and runs as separate processes, so its dependencies never mix with
ours. The modules run inside a peer's venv (``agent_calls``, ``dbos_app``, ``langgraph_app``)
import only the standard library, openai and that peer; ``scenarios`` drives them from our
venv; tests/bench/sched.py reads every process's CPU exactly, ours and theirs alike.
"""
