"""A real worker process runs agents end to end against Redis, PostgreSQL and the local LLM."""

from __future__ import annotations

from decimal import Decimal

import sqlalchemy as sa

from models import AgentType, AIAgent, TaskStatus
from tests.support.stack import Stack


def add_agent(stack: Stack, name: str, tools: list[str], **configuration: object) -> None:
    with stack.engine.begin() as connection:
        tenant_id = connection.execute(
            sa.text(
                "INSERT INTO tenants (name, slug) VALUES ('Acme', 'acme') "
                "ON CONFLICT (slug) DO UPDATE SET name = excluded.name RETURNING id"
            )
        ).scalar_one()
        connection.execute(
            sa.insert(AIAgent).values(
                tenant_id=tenant_id,
                name=name,
                type=AgentType.SUPPORT,
                version="1",
                configuration={
                    "model": "gpt-4o-mini",
                    "tools": tools,
                    "system_prompt": "You help.",
                    **configuration,
                },
            )
        )


def test_happy_path_with_two_tool_calls_persists_rows_events_tokens_and_cost(
    stack: Stack,
) -> None:
    add_agent(stack, "helper", ["current_time", "task_context"])
    stack.start_worker()

    task_id = stack.client.submit(tenant="acme", agent="helper", input="What time is it?")
    task = stack.wait_for(task_id)

    assert task.status == TaskStatus.SUCCEEDED, task.error
    assert "Answer to: What time is it?" in task.result["output"]
    events = [e.event_type.value for e in stack.client.events(task_id)]
    assert events == [
        "AGENT_START",
        "LLM_CALL",
        "TOOL_CALL",
        "TOOL_CALL",
        "TOOL_RESULT",
        "TOOL_RESULT",
        "LLM_CALL",
        "RESULT",
        "AGENT_COMPLETE",
    ]
    (run,) = stack.rows(
        "SELECT status, llm_calls, prompt_tokens, completion_tokens, cost, messages "
        "FROM agent_runs WHERE task_id = :t",
        t=task_id,
    )
    assert run.status == "COMPLETED"
    assert run.llm_calls == 2
    assert run.prompt_tokens > 0 and run.completion_tokens > 0
    assert run.cost > Decimal(0)
    assert [m["role"] for m in run.messages] == [
        "system",
        "user",
        "assistant",
        "tool",
        "tool",
        "assistant",
    ]
    actions = stack.rows(
        "SELECT tool_name, status, execution_time_ms FROM action_logs WHERE task_id = :t "
        "ORDER BY tool_name",
        t=task_id,
    )
    assert [(a.tool_name, a.status) for a in actions] == [
        ("current_time", "success"),
        ("task_context", "success"),
    ]
    assert all(a.execution_time_ms is not None for a in actions)
