"""Automation rules on the real worker: beat runs the rule sweep, a rule's action is a real
agent run, and a rule that triggers itself through its own runs stops at the depth limit."""

from __future__ import annotations

import sqlalchemy as sa

from models import TaskStatus
from models.tenant_scope import tenant_scope
from tests.support.agents import add_agent, ensure_tenant
from tests.support.stack import Stack, wait_until
from worker.automation import save_rule


def test_a_rule_that_reruns_its_own_agent_stops_at_the_depth_limit(stack: Stack) -> None:
    add_agent(stack.engine, "echo")
    acme = ensure_tenant(stack.engine, "acme")
    with tenant_scope(acme), stack.engine.begin() as connection:
        save_rule(
            connection,
            acme,
            {
                "name": "echo-again",
                "trigger": {
                    "event": "AGENT_COMPLETE",
                    "condition": {"field": "agent_role", "op": "eq", "value": "echo"},
                },
                "action": {"run_agent": {"agent": "echo", "input": "again: {{ event.content }}"}},
            },
            actor="test",
        )
    stack.start_worker(
        beat=True,
        AGENTWORKER_AUTOMATION_SWEEP_INTERVAL_SECONDS="0.5",
        AGENTWORKER_AUTOMATION_MAX_DEPTH="2",
    )

    first = stack.client.submit(agent="echo", input="hello")

    refused = wait_until(
        lambda: (
            stack.rows("SELECT depth, error FROM automation_firings WHERE status = 'refused'")
            or None
        ),
        timeout=60,
        failure=lambda: (
            "no refused firing; firings: "
            + str(stack.rows("SELECT status, depth, error FROM automation_firings"))
            + "\n"
            + "\n".join(w.log()[-3000:] for w in stack.workers)
        ),
    )
    assert stack.wait_for(first).status == TaskStatus.SUCCEEDED
    tasks = stack.rows(
        "SELECT status, metadata -> 'automation' ->> 'depth' AS depth FROM tasks "
        "ORDER BY created_at"
    )
    assert [(t.status, t.depth) for t in tasks] == [
        ("SUCCEEDED", None),
        ("SUCCEEDED", "1"),
        ("SUCCEEDED", "2"),
    ]
    assert [r.depth for r in refused] == [3]
    fired = stack.rows("SELECT depth FROM automation_firings WHERE status = 'fired' ORDER BY depth")
    assert [f.depth for f in fired] == [1, 2]
    with stack.engine.connect() as connection:
        audits = connection.execute(
            sa.text(
                "SELECT action, count(*) FROM audit_logs WHERE resource_type = 'automation_rule' "
                "GROUP BY action ORDER BY action"
            )
        ).all()
    assert [tuple(a) for a in audits] == [
        ("automation.fired", 2),
        ("automation.refused", 1),
        ("automation.rule_saved", 1),
    ]
