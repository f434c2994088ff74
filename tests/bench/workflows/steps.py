"""(w3): a workflow of three agent steps (the agent of (b)), its executions/s and agent
steps/s against (b)'s tasks/s at the same concurrency.

As (b) does, every execution's start is published first and the worker started afterwards, so
start-up is outside the window; the database's timestamps give the window and each step's
advance -> claim -> finish timeline.
"""

from __future__ import annotations

import time

from tests.bench import profile
from tests.bench.procs import (
    BenchError,
    CpuSampler,
    LLMServerProcess,
    logs_tail,
    per_process,
    wait_until_ready,
)
from tests.bench.scenarios.agent_runs import our_workers
from tests.bench.scenarios.context import AGENT_TOOLS, Context
from tests.bench.scenarios.measure import cpu_probes, epoch, grown, peak_rss, total, wait_done
from tests.bench.scenarios.result import RunResult
from tests.bench.services import unique
from tests.bench.workflows.probes import (
    execution_failures,
    executions_finished,
    probe_rows,
    tenant_id_of,
)
from tests.bench.workflows.results import StepsResult
from tests.bench.workflows.workload import AGENT, THREE_STEPS, start_executions, workflow_client
from tests.support.agents import add_agent
from tests.support.workflows import add_workflow
from worker.app import create_app

_STEPS_OUTCOME = """
SELECT count(*) AS executions, count(*) FILTER (WHERE e.status = 'completed') AS completed,
       (SELECT min(s.started_at) FROM ai_workflow_step_runs s WHERE s.tenant_id = :t) AS first,
       max(e.completed_at) AS last,
       avg(extract(epoch FROM e.completed_at - (SELECT min(s.started_at)
           FROM ai_workflow_step_runs s WHERE s.execution_id = e.id))) * 1000 AS span_ms,
       (SELECT count(*) FROM tasks WHERE tenant_id = :t AND status = 'SUCCEEDED') AS tasks,
       1 AS bench_probe
FROM ai_workflow_executions e WHERE e.tenant_id = :t
"""

_STEP_TIMELINE = """
WITH s AS (
    SELECT s.execution_id, s.step_key, s.started_at, s.finished_at, t.started_at AS claimed,
           t.finished_at AS task_finished
    FROM ai_workflow_step_runs s JOIN tasks t ON t.id = s.task_id WHERE s.tenant_id = :t
)
SELECT avg(extract(epoch FROM claimed - started_at)) * 1000 AS advance_to_claim,
       avg(extract(epoch FROM task_finished - claimed)) * 1000 AS claim_to_task_finished,
       avg(extract(epoch FROM finished_at - task_finished)) * 1000 AS task_finished_to_step_done,
       1 AS bench_probe
FROM s
"""


def run_steps(
    ctx: Context, *, executions: int, concurrency: int, processes: int = 1
) -> StepsResult:
    """(w3): publish every execution's start first, then start the workers, as (b) does, with
    (b)'s split of ``concurrency`` over ``processes``."""
    database = ctx.database
    name = "w3-three-steps"
    slug = unique(f"bench-{name}")
    add_agent(database.engine, AGENT, tools=AGENT_TOOLS, tenant=slug)
    add_workflow(database.engine, "bench_three_steps", THREE_STEPS, tenant=slug)
    tenant_id = tenant_id_of(database, slug)
    threads = per_process(concurrency, processes)
    app = create_app(ctx.broker.url)
    try:
        with LLMServerProcess(ctx.logs / f"{name}-llm.log", latency_ms=0) as llm:
            client = workflow_client(ctx, app)
            try:
                submit_started = time.perf_counter()
                start_executions(client, slug, "bench_three_steps", executions)
                submit_seconds = time.perf_counter() - submit_started
            finally:
                client.close()
            counters_before = profile.database_counters(database)
            profile.reset_statements(database)
            llm_before = llm.chat_requests()
            commands_before = ctx.broker.command_counts()
            with our_workers(
                ctx, llm.base_url, threads=threads, processes=processes, name=name
            ) as workers:
                pids = [worker.process.pid for worker in workers]
                with CpuSampler(cpu_probes(ctx, pids, llm)) as sampler:
                    wait_until_ready(app, workers)
                    wait_done(
                        lambda: executions_finished(database, tenant_id),
                        executions,
                        workers,
                        what=f"{name} (workflow executions)",
                        stall_seconds=30,
                    )
                    rss = peak_rss(workers)
                llm_requests = llm.chat_requests() - llm_before
                commands = grown(ctx.broker.command_counts(), commands_before)
                statements = profile.statements(database)
    finally:
        app.close()
    ctx.broker.flush()
    profile.wait_for_backends_to_exit(database)
    counters = grown(profile.database_counters(database), counters_before)
    outcome = probe_rows(database, _STEPS_OUTCOME, t=tenant_id)[0]
    if outcome.completed != executions:
        raise BenchError(
            f"{name}: {outcome.completed}/{executions} executions completed "
            f"({execution_failures(database, tenant_id)})\n{logs_tail(workers)}"
        )
    first, last = epoch(outcome.first), epoch(outcome.last)
    timeline = probe_rows(database, _STEP_TIMELINE, t=tenant_id)[0]._mapping
    steps = len(THREE_STEPS)
    details = {
        "submit_seconds": round(submit_seconds, 3),
        "execution_ms_avg": None if outcome.span_ms is None else round(float(outcome.span_ms), 1),
        "agent_tasks_per_execution": int(outcome.tasks) / executions,
        "llm_requests_per_execution": llm_requests / executions,
        "database_counters_per_execution": {
            k: round(v / executions, 3) for k, v in counters.items()
        },
        "statements": profile.summarize_statements(statements, executions, top=8)
        if statements
        else None,
        "statements_note": database.statements_note,
        "step_timeline_ms": {
            k: None if v is None else round(float(v), 1)
            for k, v in timeline.items()
            if k != "bench_probe"
        },
    }
    run = RunResult(
        name=name,
        kind="workflow",
        tasks=executions,
        concurrency=threads * processes,
        seconds=last - first,
        llm_calls_per_task=2 * steps,
        latency_ms=0,
        peak_rss_mib=total(rss),
        cpu_seconds=sampler.window(first, last),
        redis_commands=commands,
        profile=details,
        processes=processes,
        peak_rss_each_mib=rss,
    )
    return StepsResult(run, steps)
