"""Running one task: claim it, start or resume its agent run, and step the loop, persisting
after every LLM call and every batch of tool results (DESIGN §5). No transaction is open while
the model or a tool works. The claim and the run's start are one transaction; each step after
is one statement (``worker.durable.journal``) that also checks the lease, so a cancelled or
reclaimed task stops at its next checkpoint. A final answer and the task's success are written
together.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from typing import Any

import sqlalchemy as sa

from models import (
    AgentRun,
    AgentRunStatus,
    ErrorSeverity,
    EventType,
    ModelUsageType,
    Task,
    TaskStatus,
)
from worker.agents.definitions import find_agent, load_agent
from worker.agents.loop import (
    CallModel,
    Finish,
    GiveUp,
    InvalidOutput,
    RunTools,
    ValidOutput,
    check_output,
    initial_messages,
    next_step,
    response_format,
    summarize,
)
from worker.agents.run_state import ActiveRun, AwaitingApproval, LostLease, Outcome, RunState
from worker.agents.runtime import Runtime
from worker.agents.tool_calls import ToolCallScope, refused_call, run_tool_call
from worker.agents.tool_gate import gate_tool_calls
from worker.agents.tools import ToolContext
from worker.core.contract import ADVANCE_WORKFLOW, RUN_TASK
from worker.core.errors import AgentWorkerError
from worker.core.log_context import log_context
from worker.durable import faults, journal, records
from worker.durable.leases import ClaimedTask, claim_task, release_task
from worker.durable.states import AGENT_RUN
from worker.llm import attempt_records
from worker.llm.gateway import Attempt, LLMCallFailed, LLMDeferred
from worker.llm.providers import resolve_provider
from worker.security.encryption import SecretBox
from worker.security.secret_refs import resolve_references

log = logging.getLogger(__name__)
_runs = AgentRun.__table__
#: A run in these states continues where it stopped when its task is claimed again.
_RESUMABLE = (AgentRunStatus.STARTED, AgentRunStatus.RUNNING, AgentRunStatus.WAITING_APPROVAL)
_tasks = Task.__table__


def execute_task(runtime: Runtime, task_id: uuid.UUID) -> Outcome:
    settings = runtime.settings
    with runtime.engine.begin() as connection:
        task = claim_task(connection, task_id, runtime.owner, settings.lease_seconds)
        if task is None:
            return Outcome(task_id, "skipped", "not due, already done, or held by a live worker")
        started: ActiveRun | Exception
        try:
            started = _start_or_resume(runtime, task, connection)
        except sa.exc.SQLAlchemyError:
            raise  # the claim rolls back with it; the task layer retries the message
        except Exception as error:  # e.g. an unknown agent: the claim commits, the task fails
            started = error
    faults.fault_point(faults.AFTER_TASK_CLAIMED, settings.fault_point)
    execution = task.workflow_execution_id
    with log_context(
        task_id=str(task.id),
        tenant_id=str(task.tenant_id),
        step=task.workflow_step,
        workflow_execution_id=str(execution) if execution else None,
        agent_run_id=str(started.state.id) if isinstance(started, ActiveRun) else None,
    ):
        outcome = _execute(runtime, task, started)
        log.info(
            "task %s: %s",
            outcome.status,
            outcome.detail[:300],
            extra={"outcome": outcome.status, "attempt": task.attempts},
        )
        return outcome


def _execute(runtime: Runtime, task: ClaimedTask, started: ActiveRun | Exception) -> Outcome:
    scope = records.Scope(tenant_id=task.tenant_id, task_id=task.id, agent_name=task.agent_name)
    run: ActiveRun | None = None
    try:
        if isinstance(started, Exception):
            raise started
        run = started
        return _loop(run)
    except LostLease:
        return _abandon(runtime, task, run)
    except AwaitingApproval:
        return Outcome(task.id, "awaiting_approval", "parked until an approver decides")
    except LLMDeferred as deferral:
        return _defer(runtime, task, run, deferral)
    except (LLMCallFailed, AgentWorkerError) as error:
        return _fail(runtime, task, run or None, scope, error, str(error))
    except (sa.exc.OperationalError, sa.exc.InterfaceError):
        raise  # the database is unreachable: let the task layer retry the message
    except Exception as error:
        log.exception("task %s failed unexpectedly", task.id)
        message = f"internal error: {type(error).__name__}: {error} (see ai_error_logs)"
        return _fail(runtime, task, run, scope, error, message, severity=ErrorSeverity.HIGH)


def _start_or_resume(runtime: Runtime, task: ClaimedTask, connection: sa.Connection) -> ActiveRun:
    """Load the agent and provider (reads, which may fail), then resume or insert the run."""
    settings = runtime.settings
    agent = runtime.definitions.get(
        ("agent", task.agent_id, task.tenant_id, task.agent_name),
        lambda: (
            load_agent(connection, task.agent_id)
            if task.agent_id is not None
            else find_agent(connection, task.tenant_id, task.agent_name or "")
        ),
    )
    provider, provider_model = runtime.definitions.get(
        ("provider", task.tenant_id, agent.configuration.provider),
        lambda: resolve_provider(
            connection,
            settings,
            task.tenant_id,
            usage=ModelUsageType.TASK_EXECUTION,
            named=agent.configuration.provider,
        ),
    )
    model = agent.configuration.model or provider_model or settings.default_model
    # Only a task claimed before can have a run to resume (each claim counts an attempt).
    existing = (
        connection.execute(
            sa.select(_runs.c.id, _runs.c.messages, _runs.c.llm_calls, _runs.c.status)
            .where(_runs.c.task_id == task.id, _runs.c.status.in_(_RESUMABLE))
            .order_by(_runs.c.started_at.desc())
            .limit(1)
        ).one_or_none()
        if task.attempts > 1
        else None
    )
    scope = records.Scope(
        tenant_id=task.tenant_id, task_id=task.id, agent_id=agent.id, agent_name=agent.name
    )
    if existing is not None:
        if existing.status != AgentRunStatus.RUNNING:
            AGENT_RUN.apply(connection, existing.id, AgentRunStatus.RUNNING)
        state = RunState(existing.id, list(existing.messages), existing.llm_calls, model)
        scope = records.Scope(**{**scope.__dict__, "agent_run_id": existing.id})
        records.write(
            connection,
            events=[
                records.event(
                    scope,
                    EventType.SYSTEM,
                    f"resumed from {len(state.messages)} persisted messages "
                    f"(attempt {task.attempts})",
                    {"attempt": task.attempts, "messages": len(state.messages)},
                )
            ],
        )
    else:
        messages = initial_messages(
            agent.configuration,
            task.input_prompt,
            task.input_payload.get("input", task.input_payload),
        )
        run_id = uuid.uuid4()
        connection.execute(
            sa.insert(_runs).values(
                id=run_id,
                tenant_id=task.tenant_id,
                task_id=task.id,
                agent_id=agent.id,
                agent_name=agent.name,
                agent_version=agent.version,
                status=AgentRunStatus.RUNNING,
                model=model,
                messages=messages,
            )
        )
        state = RunState(run_id, messages, 0, model)
        scope = records.Scope(**{**scope.__dict__, "agent_run_id": run_id})
        records.write(
            connection,
            events=[
                records.event(
                    scope,
                    EventType.AGENT_START,
                    f"agent '{agent.name}' started",
                    {
                        "model": model,
                        "provider": provider.name,
                        "tools": list(agent.configuration.tools),
                        "attempt": task.attempts,
                    },
                )
            ],
        )
    return ActiveRun(runtime, task, agent, provider, state, scope)


def _loop(run: ActiveRun) -> Outcome:
    configuration = run.agent.configuration
    while True:
        step = next_step(
            run.state.messages, llm_calls=run.state.llm_calls, max_steps=configuration.max_steps
        )
        if isinstance(step, CallModel):
            reply = _call_model(run)
            answer = _final_answer(run, reply)
            if answer is not None:
                return _succeed(run, answer.value, reply)
            _append(run, reply)
            run.state.llm_calls += 1
            faults.fault_point(faults.AFTER_LLM_CALL_PERSISTED, run.runtime.settings.fault_point)
        elif isinstance(step, RunTools):
            _run_tools(run, step)
        elif isinstance(step, Finish):
            checked = check_output(step.content, configuration.output_schema)
            if isinstance(checked, InvalidOutput):
                if run.state.llm_calls >= configuration.max_steps:
                    raise AgentWorkerError(
                        f"the agent's final answer does not match its output schema: "
                        f"{checked.problem}",
                        code="invalid_output",
                    )
                _append(
                    run,
                    journal.Step(
                        [checked.feedback()],
                        events=[
                            records.event(
                                run.scope, EventType.LOG, f"output rejected: {checked.problem}"
                            )
                        ],
                    ),
                )
                continue
            return _succeed(run, checked.value)
        elif isinstance(step, GiveUp):
            raise AgentWorkerError(step.reason, code="step_limit")


def _call_model(run: ActiveRun) -> journal.Step:
    """Ask the model; the step that records its reply, not yet written."""
    runtime, state, configuration = run.runtime, run.state, run.agent.configuration
    tools = runtime.tools.openai_tools(configuration.tools) if configuration.tools else None
    result = runtime.gateway.chat(
        run.provider,
        model=state.model,
        messages=state.messages,
        tools=tools,
        temperature=configuration.temperature,
        max_tokens=configuration.max_tokens,
        response_format=response_format(configuration),
        on_attempt=lambda attempt: _on_attempt(run, attempt, "chat"),
    )
    calls = result.tool_calls
    llm_event = records.event(
        run.scope,
        EventType.LLM_CALL,
        result.content if not calls else f"asked for {len(calls)} tool call(s)",
        {
            "model": result.model,
            "provider": run.provider.name,
            "prompt_tokens": result.prompt_tokens,
            "completion_tokens": result.completion_tokens,
            "cost": str(result.cost),
            "attempts": len(result.attempts),
            "latency_ms": round(result.attempts[-1].latency_ms, 1),
            "finish_reason": result.finish_reason,
        },
    )
    call_events = [
        records.event(
            run.scope,
            EventType.TOOL_CALL,
            call["function"]["name"],
            {
                "tool_call_id": call["id"],
                "name": call["function"]["name"],
                "arguments": call["function"]["arguments"],
            },
        )
        for call in calls
    ]
    return journal.Step(
        [result.message],
        events=[llm_event, *call_events],
        llm_calls=1,
        prompt_tokens=result.prompt_tokens,
        completion_tokens=result.completion_tokens,
        cost=result.cost,
    )


def _final_answer(run: ActiveRun, reply: journal.Step) -> ValidOutput | None:
    """The reply's output if it ends the run: no tool calls, and it fits the output schema."""
    messages = [*run.state.messages, *reply.messages]
    after = next_step(
        messages, llm_calls=run.state.llm_calls + 1, max_steps=run.agent.configuration.max_steps
    )
    if not isinstance(after, Finish):
        return None
    checked = check_output(after.content, run.agent.configuration.output_schema)
    return checked if isinstance(checked, ValidOutput) else None


def _run_tools(run: ActiveRun, step: RunTools) -> None:
    runtime, task = run.runtime, run.task
    scope = ToolCallScope(
        task.tenant_id,
        task.id,
        run.state.id,
        run.agent.name,
        frozenset(run.agent.configuration.tools),
        resolve_secrets=lambda value: _resolve_secrets(runtime, task.tenant_id, value),
    )
    context = ToolContext(
        tenant_id=task.tenant_id,
        task_id=task.id,
        agent_run_id=run.state.id,
        agent_name=run.agent.name,
        session_factory=runtime.sessions,
        services={"runtime": runtime},
    )
    refusals = gate_tool_calls(run, scope, step.calls)
    outcomes = [
        refused_call(scope, call, runtime.tools, refusals[call["id"]])
        if call["id"] in refusals
        else run_tool_call(runtime.engine, runtime.tools, scope, call, context)
        for call in step.calls
    ]
    events = [
        records.event(
            run.scope,
            EventType.TOOL_RESULT,
            f"{o.name}: {o.status.value}",
            {
                "tool_call_id": o.tool_call_id,
                "name": o.name,
                "status": o.status.value,
                "duration_ms": o.duration_ms,
                "error": o.error,
                "result": o.content[:2000],
            },
        )
        for o in outcomes
    ]
    _append(
        run,
        journal.Step(
            [o.message() for o in outcomes],
            events=events,
            action_logs=[o.action_log for o in outcomes],
        ),
    )
    faults.fault_point(faults.AFTER_TOOL_RESULT_PERSISTED, runtime.settings.fault_point)


def _resolve_secrets(runtime: Runtime, tenant_id: uuid.UUID, value: Any) -> Any:
    keys = runtime.settings.encryption_keys
    with runtime.engine.connect() as connection:
        return resolve_references(
            value, connection=connection, tenant_id=tenant_id, box=SecretBox(keys) if keys else None
        )


def _append(run: ActiveRun, step: journal.Step) -> None:
    """Persist one step with the metrics of its LLM attempts, if the lease holds."""
    step.metrics = [*run.pending_metrics, *step.metrics]
    with _autocommit(run.runtime) as connection:
        written = journal.append(
            connection,
            task_id=run.task.id,
            owner=run.runtime.owner,
            run_id=run.state.id,
            model=run.state.model,
            step=step,
        )
    if not written:
        raise LostLease()
    run.pending_metrics = []
    run.state.messages.extend(step.messages)


def _autocommit(runtime: Runtime) -> sa.Connection:
    """A connection whose statements commit themselves: a one-statement step needs no
    BEGIN/COMMIT round trip."""
    return runtime.engine.connect().execution_options(isolation_level="AUTOCOMMIT")


def _on_attempt(run: ActiveRun, attempt: Attempt, call: str) -> None:
    metric = attempt_records.latency_metric(run.scope, attempt, model=run.state.model, call=call)
    if attempt.ok:
        run.pending_metrics.append(metric)  # written with the step
        return
    with run.runtime.engine.begin() as connection:
        records.write(
            connection,
            metrics=[metric],
            errors=[attempt_records.attempt_failure_log(run.scope, attempt, model=run.state.model)],
            events=[
                records.event(
                    run.scope,
                    EventType.ERROR,
                    f"LLM attempt {attempt.number} failed: {attempt.error_kind}",
                    {
                        "attempt": attempt.number,
                        "status_code": attempt.status_code,
                        "error": attempt.error_message,
                    },
                )
            ],
        )


def _succeed(run: ActiveRun, output: Any, reply: journal.Step | None = None) -> Outcome:
    """End the task SUCCEEDED, writing the model's final ``reply`` with it (None when the
    answer was persisted before, by an attempt that stopped right after)."""
    runtime, task = run.runtime, run.task
    summary = summarize(output)
    last = reply or journal.Step([])
    llm_calls = run.state.llm_calls + last.llm_calls
    last.metrics = [*run.pending_metrics, *last.metrics]
    last.events = [
        *last.events,
        records.event(run.scope, EventType.RESULT, summary, {"output": output}),
        records.event(
            run.scope,
            EventType.AGENT_COMPLETE,
            f"agent '{run.agent.name}' done",
            {"llm_calls": llm_calls},
        ),
    ]
    with _autocommit(runtime) as connection:
        finished = journal.finish(
            connection,
            task_id=task.id,
            owner=runtime.owner,
            run_id=run.state.id,
            model=run.state.model,
            step=last,
            output=output,
            summary=summary,
        )
    if not finished:
        raise LostLease()
    run.pending_metrics = []
    run.state.llm_calls = llm_calls
    _wake_workflow(runtime, task)
    return Outcome(task.id, "succeeded", summary)


def _fail(
    runtime: Runtime,
    task: ClaimedTask,
    run: ActiveRun | None,
    scope: records.Scope,
    error: BaseException,
    message: str,
    *,
    severity: ErrorSeverity = ErrorSeverity.MEDIUM,
) -> Outcome:
    scope = run.scope if run is not None else scope
    code = getattr(error, "code", "error")
    with runtime.engine.begin() as connection:
        released = release_task(
            connection,
            task.id,
            runtime.owner,
            TaskStatus.FAILED,
            error=records.scrub_text(message),
            error_code=code,
            finished_at=sa.func.now(),
        )
        if not released:
            return _abandon_in(connection, runtime, task, run)
        if run is not None:
            AGENT_RUN.apply(
                connection,
                run.state.id,
                AgentRunStatus.FAILED,
                values={"error": records.scrub_text(message), "finished_at": sa.func.now()},
            )
        records.write(
            connection,
            metrics=run.pending_metrics if run is not None else [],
            events=[records.event(scope, EventType.ERROR, message, {"code": code})],
            errors=[
                records.error_log(
                    scope,
                    error_type=f"task.{code}",
                    message=message,
                    severity=severity,
                    error=error,
                )
            ],
        )
    _wake_workflow(runtime, task)
    return Outcome(task.id, "failed", message)


def _wake_workflow(runtime: Runtime, task: ClaimedTask) -> None:
    """A workflow step's task has ended: let its execution move on (after commit)."""
    if task.workflow_execution_id is not None:
        runtime.publisher.publish(
            ADVANCE_WORKFLOW, {"execution_id": str(task.workflow_execution_id)}
        )


def _defer(
    runtime: Runtime, task: ClaimedTask, run: ActiveRun | None, deferral: LLMDeferred
) -> Outcome:
    countdown = deferral.countdown
    scope = run.scope if run is not None else records.Scope(task.tenant_id, task.id)
    with runtime.engine.begin() as connection:
        released = release_task(
            connection,
            task.id,
            runtime.owner,
            TaskStatus.PENDING,
            not_before=sa.func.now() + timedelta(seconds=countdown),
        )
        if not released:
            return _abandon_in(connection, runtime, task, run)
        if run is not None:
            AGENT_RUN.apply(connection, run.state.id, AgentRunStatus.STARTED)
        records.write(
            connection,
            metrics=run.pending_metrics if run else [],
            events=[
                records.event(
                    scope,
                    EventType.SYSTEM,
                    f"waiting {countdown:g}s before the next LLM call ({deferral}); "
                    "the worker slot is released meanwhile",
                    {"countdown": countdown, "reason": "retry_after"},
                ),
            ],
        )
    runtime.publisher.publish(
        RUN_TASK, {"task_id": str(task.id)}, countdown=countdown, priority=task.priority
    )
    return Outcome(task.id, "deferred", f"re-published with a {countdown:g}s countdown")


def _abandon(runtime: Runtime, task: ClaimedTask, run: ActiveRun | None) -> Outcome:
    with runtime.engine.begin() as connection:
        return _abandon_in(connection, runtime, task, run)


def _abandon_in(
    connection: sa.Connection, runtime: Runtime, task: ClaimedTask, run: ActiveRun | None
) -> Outcome:
    """Stop quietly: the task was cancelled or another worker owns it now."""
    status = connection.execute(
        sa.select(_tasks.c.status).where(_tasks.c.id == task.id)
    ).scalar_one_or_none()
    if status == TaskStatus.CANCELLED and run is not None:
        AGENT_RUN.apply(
            connection,
            run.state.id,
            AgentRunStatus.CANCELLED,
            values={"finished_at": sa.func.now()},
        )
        records.write(
            connection,
            events=[records.event(run.scope, EventType.SYSTEM, "stopped: the task was cancelled")],
        )
    return Outcome(task.id, "abandoned", f"task is {status}; this worker stopped")
