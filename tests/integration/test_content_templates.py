"""Seed 001's content_templates at work: ``save_draft_content`` writes approved content from a
template named by the call (the tenant's own, else the system-wide one) with its variables
filled in, refuses a call that leaves a variable out, and counts the template's uses; the beat
job computes each template's success_rate from the approvals of the calls that named it.

Driven as tests/integration/test_ai_outputs.py drives the output tools (its harness).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from models import ContentTemplate
from models.tenant_scope import tenant_scope
from tests.integration import test_ai_outputs as ai_outputs
from worker.approvals import cli_principal, resolve
from worker.ops.agent_performance import aggregate_agent_performance

Harness = ai_outputs.Harness
harness = ai_outputs.harness  # the fixture, shared rather than copied
APPROVER = ai_outputs.APPROVER
WELCOME = "Hello {{ name }}, welcome to {{event}}!"


def _template(
    harness: Harness, name: str, content: str, variables: list[str], *, shared: bool = False
) -> uuid.UUID:
    tenant_id = None
    if not shared:
        (tenant,) = harness.rows("SELECT id FROM tenants WHERE slug = 'acme'")
        tenant_id = tenant.id
    with harness.engine.begin() as connection:
        return connection.execute(
            sa.insert(ContentTemplate)
            .values(
                tenant_id=tenant_id,
                template_name=name,
                template_type="email_template",
                template_content=content,
                variables=variables,
            )
            .returning(ContentTemplate.id)
        ).scalar_one()


def _propose(harness: Harness, agent: str, arguments: dict[str, Any], decision: str) -> Any:
    """Run ``agent`` (whose one call is ``save_draft_content(**arguments)``), decide its
    approval and run it on; the task id and the approval."""
    task_id = harness.run(agent)
    (approval,) = harness.rows("SELECT * FROM approvals WHERE task_id = :t", t=task_id)
    assert approval.payload["arguments"]["template"] == arguments["template"]
    with tenant_scope(approval.tenant_id):
        resolve(
            harness.runtime.engine,
            harness.runtime.publisher,
            approval.id,
            decision,
            APPROVER,
            "fine" if decision == "approve" else "off-brand",
            principal=cli_principal(),
        )
    assert harness.execute(task_id).status == "succeeded"
    return task_id


def _template_row(harness: Harness, template_id: uuid.UUID) -> Any:
    (row,) = harness.rows("SELECT * FROM content_templates WHERE id = :i", i=template_id)
    return row


def test_a_template_is_filled_with_its_variables_and_its_use_counted(harness: Harness) -> None:
    _template(harness, "Welcome", "Shared: {{ name }}", ["name"], shared=True)
    own = _template(harness, "Welcome", WELCOME, ["name", "event"])
    arguments = {
        "title": "Welcome",
        "template": "welcome",  # names are matched case-insensitively
        "variables": {"name": "Ada", "event": "AgentConf"},
    }
    harness.agent("writer", ["save_draft_content"], arguments)
    assert _template_row(harness, own).usage_count == 0

    _propose(harness, "writer", arguments, "approve")

    (content,) = harness.rows("SELECT * FROM ai_generated_content")
    assert content.content == "Hello Ada, welcome to AgentConf!"  # the tenant's own first
    assert content.template_id == own and content.is_approved
    assert content.metadata["template"] == "Welcome"
    assert _template_row(harness, own).usage_count == 1


def test_a_missing_variable_is_refused_naming_the_templates_variables(harness: Harness) -> None:
    own = _template(harness, "Welcome", WELCOME, ["name", "event"])
    arguments = {"title": "Welcome", "template": "Welcome", "variables": {"name": "Ada"}}
    harness.agent("writer", ["save_draft_content"], arguments)

    task_id = _propose(harness, "writer", arguments, "approve")

    (message,) = harness.tool_messages(task_id)
    assert message.startswith("error:")
    assert "needs variables event" in message and "its variables are: name, event" in message
    assert harness.rows("SELECT id FROM ai_generated_content") == []
    assert _template_row(harness, own).usage_count == 0


def test_an_unknown_template_is_refused_naming_the_known_ones(harness: Harness) -> None:
    _template(harness, "Welcome", WELCOME, ["name", "event"])
    arguments = {"title": "Bio", "template": "Speaker bio", "variables": {}}
    harness.agent("writer", ["save_draft_content"], arguments)

    task_id = _propose(harness, "writer", arguments, "approve")

    (message,) = harness.tool_messages(task_id)
    assert "no content template named 'Speaker bio'" in message and "Welcome" in message
    assert harness.rows("SELECT id FROM ai_generated_content") == []


def test_success_rate_is_approved_over_proposed_calls(harness: Harness) -> None:
    shared = _template(harness, "Speaker bio", "{{ speaker }} speaks.", ["speaker"], shared=True)
    own = _template(harness, "Welcome", WELCOME, ["name", "event"])
    other = _template(harness, "Farewell", "Bye {{ name }}", ["name"])
    arguments = {"title": "Bio", "template": "Speaker bio", "variables": {"speaker": "Ada"}}
    harness.agent("writer", ["save_draft_content"], arguments)
    _propose(harness, "writer", arguments, "approve")
    _propose(harness, "writer", arguments, "reject")
    harness.run("writer")  # pending: not judged yet, so not counted
    welcome = {"title": "Hi", "template": "Welcome", "variables": {"name": "Ada", "event": "X"}}
    harness.agent("greeter", ["save_draft_content"], welcome)
    _propose(harness, "greeter", welcome, "approve")

    report = aggregate_agent_performance(harness.runtime.engine, [datetime.now(UTC).date()])

    bio = _template_row(harness, shared)
    assert bio.success_rate == Decimal("0.50")
    assert bio.usage_count == 1  # only the approved call wrote content
    assert _template_row(harness, own).success_rate == Decimal("1.00")
    assert report.templates == 2
    assert _template_row(harness, other).success_rate == Decimal("0.00")  # never proposed
    aggregate_agent_performance(harness.runtime.engine, [datetime.now(UTC).date()])
    assert _template_row(harness, shared).success_rate == Decimal("0.50")  # recomputed, same
