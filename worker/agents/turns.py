"""Driving a run turn by turn until it ends: ask the loop what comes next, call the model or
run the tools it asked for, and persist each step before the next (DESIGN §5).

No transaction is open while the model or a tool works. A reply that is already a valid final
answer is written together with the task's success, in one statement. An answer that does not
fit the output schema is sent back to the model while it has steps left.
"""

from __future__ import annotations

import contextlib
import itertools
import math
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa

from models import EventType
from worker.agents import budget_grants
from worker.agents.budgets import BudgetExceeded, check_budget, effective_budget
from worker.agents.checkpoints import append_step
from worker.agents.endings import succeed
from worker.agents.loop import (
    CallModel,
    Finish,
    GiveUp,
    InvalidOutput,
    NextStep,
    RunTools,
    ValidOutput,
    check_output,
    next_step,
    response_format,
)
from worker.agents.run_state import ActiveRun, Outcome, RunTimedOut
from worker.agents.tenant_budgets import (
    TenantBudgetExceeded,
    TenantLimits,
    admit,
    release,
    settle,
    tenant_limits,
)
from worker.agents.tool_step import run_tools
from worker.core import tracing
from worker.core.contract import RunBudget
from worker.core.errors import AgentWorkerError
from worker.durable import faults, journal, records
from worker.llm import attempt_records, token_estimate
from worker.llm.gateway import Attempt

#: A reservation outlives its run's deadline by this much, then frees the tenant's budget.
_RESERVATION_MARGIN_SECONDS = 30.0


def drive(run: ActiveRun) -> Outcome:
    """Step ``run`` until it succeeds; every other ending is raised (``LostLease``,
    ``AwaitingApproval``, ``LLMDeferred``, ``LLMCallFailed``, ``AgentWorkerError``)."""
    with tracing.invoke_agent(run.agent.name, run.state.id, run.state.model):
        return _drive(run)


def _drive(run: ActiveRun) -> Outcome:
    configuration = run.agent.configuration
    budget = effective_budget(configuration.budget, run.task.input_payload.get("budget"))
    budgets = _Budgets(budget, budget, _tenant_limits(run))
    for number in itertools.count(1):
        run.check_deadline()
        step = next_step(
            run.state.messages, llm_calls=run.state.steps_taken, max_steps=configuration.max_steps
        )
        with tracing.agent_step(run.agent.name, run.state.id, _KINDS[type(step)], number):
            outcome = _take(run, step, budgets)
        if outcome is not None:
            return outcome
    raise AssertionError("unreachable")  # itertools.count never ends


#: A step's kind, as its span names it.
_KINDS = {CallModel: "call_model", RunTools: "run_tools", Finish: "finish", GiveUp: "give_up"}


@dataclass
class _Budgets:
    """What limits a run's LLM calls: its own budget, as approvers' grants have raised it,
    and its tenant's."""

    budget: RunBudget | None
    allowed: RunBudget | None
    tenant: TenantLimits


def _take(run: ActiveRun, step: NextStep, budgets: _Budgets) -> Outcome | None:
    """Take one step; the run's outcome if it ended it, else None (go on)."""
    configuration = run.agent.configuration
    if isinstance(step, CallModel):
        budgets.allowed = _within_budget(run, budgets.budget, budgets.allowed)
        reservation = _admitted(run, budgets.tenant)
        try:
            reply = _call_model(run)
        except BaseException:
            if reservation is not None:
                # An unreachable database must not hide why the call failed: the
                # reservation then expires by itself.
                with contextlib.suppress(sa.exc.SQLAlchemyError):
                    release(run.runtime.engine, reservation)
            raise
        if reservation is not None:
            settle(run.runtime.engine, run.task.tenant_id, reservation, reply.cost)
        faults.fault_point(faults.AFTER_LLM_REPLY_RECEIVED, run.runtime.settings.fault_point)
        answer = _final_answer(run, reply)
        if answer is not None:
            return succeed(run, answer.value, reply)
        append_step(run, reply)
        run.state.llm_calls += 1
        run.state.tokens += reply.prompt_tokens + reply.completion_tokens
        run.state.cost += reply.cost
        faults.fault_point(faults.AFTER_LLM_CALL_PERSISTED, run.runtime.settings.fault_point)
    elif isinstance(step, RunTools):
        run_tools(run, step)
    elif isinstance(step, Finish):
        checked = check_output(step.content, configuration.output_schema)
        if isinstance(checked, InvalidOutput):
            if run.state.steps_taken >= configuration.max_steps:
                raise AgentWorkerError(
                    f"the agent's final answer does not match its output schema: {checked.problem}",
                    code="invalid_output",
                )
            append_step(
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
            return None
        return succeed(run, checked.value)
    elif isinstance(step, GiveUp):
        raise AgentWorkerError(step.reason, code="step_limit")
    return None


def _within_budget(
    run: ActiveRun, budget: RunBudget | None, allowed: RunBudget | None
) -> RunBudget | None:
    """The run's budget as it now stands, if one more LLM call is within it; a run past it
    fails ``budget_exceeded`` or, if its budget asks, waits for an approver's grant."""
    try:
        check_budget(allowed, run.state.spend())
        return allowed
    except BudgetExceeded:
        if budget is None or budget.on_exceeded != "ask":
            raise
        allowed = budget_grants.granted(run, budget)
        try:
            check_budget(allowed, run.state.spend())
        except BudgetExceeded as still:
            budget_grants.ask_for_more(run, still)
        return allowed


def _tenant_limits(run: ActiveRun) -> TenantLimits:
    """The tenant's limits, read once per few seconds per process (the definitions cache)."""
    tenant_id = run.task.tenant_id

    def load() -> TenantLimits:
        with run.runtime.engine.connect() as connection:
            return tenant_limits(connection, tenant_id)

    return run.runtime.definitions.get(("tenant_limits", tenant_id), load)


def _admitted(run: ActiveRun, limits: TenantLimits) -> uuid.UUID | None:
    """Admit the next LLM call under the tenant's budget (None: the tenant has none)."""
    if not limits.any:
        return None
    remaining = run.deadline - time.monotonic()
    if not math.isfinite(remaining):
        remaining = run.timeout_seconds()
    try:
        reservation = admit(
            run.runtime.engine,
            run.task.tenant_id,
            limits,
            estimate=_most_the_call_costs(run),
            run_id=run.state.id,
            expires_in_seconds=max(remaining, 0) + _RESERVATION_MARGIN_SECONDS,
            deadline=run.deadline,
        )
    except TenantBudgetExceeded as exceeded:
        if not limits.ask:
            raise
        budget_grants.ask_for_more(run, exceeded)
    if reservation is None:  # the deadline passed while calls in flight filled the budget
        run.check_deadline()
        raise RunTimedOut("the run's deadline passed while it waited for its tenant's budget")
    return reservation


def _most_the_call_costs(run: ActiveRun) -> Decimal:
    """The next call's cost at the most: its prompt and its whole completion allowance."""
    configuration = run.agent.configuration
    tools = run.runtime.tools.openai_tools(configuration.tools) if configuration.tools else None
    completion = configuration.max_tokens or token_estimate.DEFAULT_COMPLETION_TOKENS
    prompt = token_estimate.chat_tokens(run.state.messages, tools, 0)
    return run.runtime.gateway.cost(run.state.model, prompt, completion)


def _call_model(run: ActiveRun) -> journal.Step:
    """Ask the model; the step that records its reply, not yet written."""
    runtime, state, configuration = run.runtime, run.state, run.agent.configuration
    tools = runtime.tools.openai_tools(configuration.tools) if configuration.tools else None
    with tracing.chat(
        state.model,
        base_url=run.provider.base_url,
        temperature=configuration.temperature,
        max_tokens=configuration.max_tokens,
        messages=state.messages,
    ) as span:
        result = runtime.gateway.chat(
            run.provider,
            model=state.model,
            messages=state.messages,
            tools=tools,
            temperature=configuration.temperature,
            max_tokens=configuration.max_tokens,
            response_format=response_format(configuration),
            on_attempt=lambda attempt: _on_attempt(run, attempt, "chat"),
            deadline=run.deadline if math.isfinite(run.deadline) else None,
        )
        tracing.chat_reply(span, result)
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
        messages, llm_calls=run.state.steps_taken + 1, max_steps=run.agent.configuration.max_steps
    )
    if not isinstance(after, Finish):
        return None
    checked = check_output(after.content, run.agent.configuration.output_schema)
    return checked if isinstance(checked, ValidOutput) else None


def _on_attempt(run: ActiveRun, attempt: Attempt, call: str) -> None:
    """Record one LLM attempt: a success's latency waits to be written with its step; a
    failure is written now, since its step may never come."""
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
