"""``make bench``: agentworker's worker against bare Celery, on one broker and one database,
in one run (DESIGN §7). See ``python -m tests.bench --help``.

(a) bare Celery no-op tasks/s and (b) agent tasks/s (one tool, the local LLM at 0 ms) at the
same total concurrency: the ratio (b)/(a) is the CPU cost of our persistence and LLM plumbing.
(b0) bare Celery tasks making (b)'s two LLM calls through the openai SDK: the ceiling Celery and
the SDK alone put on (b). (c) agent tasks against bare Celery tasks that sleep as long, with the
LLM at 500 ms and concurrency 100: both against the Little's-law bound, and their ratio.
(b0), (b) and both runs of (c) split their concurrency over ``--processes`` worker processes
(2 by default; one process uses at most one CPU); (a) runs in one.
Workflows (tests/bench/workflows/), same run: (w1) an approval's decision to its next step's
agent run (p50/p95 from the database's timestamps; idle, paced and back to back), (w2) many
executions waiting on approvals (worker slots held, rows and bytes per execution, how long
``approvals list`` takes), (w3) a 3-step workflow's executions/s and steps/s against (b).
"""
