"""``make bench``: agentworker's worker against bare Celery, on one broker and one database,
in one run (DESIGN §7). See ``python -m tests.bench --help``.

(a) bare Celery no-op tasks/s and (b) agent tasks/s (one tool, the local LLM at 0 ms) at the
same concurrency: the ratio (b)/(a) is the CPU cost of our persistence and LLM plumbing.
(c) agent tasks against bare Celery tasks that sleep as long, with the LLM at 500 ms and
concurrency 100: both against the Little's-law bound, and their ratio.
"""
