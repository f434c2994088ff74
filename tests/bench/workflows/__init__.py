"""The workflows section, on the same broker and database as the other scenarios.

(w1) An approval's decision to the next step's start: executions of [approval gate, agent step]
wait on their gate; each approval is resolved through ``AgentWorkerClient.resolve_approval`` with
a real worker running, and the database's own timestamps give the latency: ``approvals.
decided_at`` (the deciding transaction), then the next step's ``tasks.created_at`` (the advance
that made its row), ``tasks.started_at`` (its claim) and ``agent_runs.started_at`` (its agent run).
Once paced (each resolve after the previous step's agent run started) and once back to back.

(w2) Many executions waiting on approvals: worker slots held, rows and bytes per execution, and
how long ``approvals list`` takes at that size, in-process and as the CLI process.

(w3) A workflow of three agent steps (the agent of (b)): executions/s and agent steps/s, against
(b)'s tasks/s at the same concurrency, publishing first and then starting the worker as (b) does.

``workload`` holds the workflows and the tenants they run for, ``approvals`` runs (w1) and (w2)
on one worker, ``steps`` runs (w3), ``probes`` reads the database, ``results`` holds the figures
and their targets.
"""
