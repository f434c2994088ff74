"""Seed 001's AI outputs at work (issue 14, item 3): agents write recommendations, insights,
predictions, approved content and messages through their tools, with the seed's CHECKs held
(an out-of-range call is a tool error back to the model and writes nothing); feedback on a
recommendation becomes training data; ai_agent_performance is aggregated from real runs, once
per day however often it runs; a model version is recorded per distinct configuration.

Each run is driven in this process (``execute_task`` with a real runtime logged in as the
runtime role, PostgreSQL and the local LLM server, which calls every tool it is offered with
arguments generated from the tool's schema, or scripted per model).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from models.db import sync_session_factory
from models.tenant_scope import tenant_scope
from tests.support.agents import add_agent
from tests.support.local_llm import admin
from tests.support.publisher import RecordingPublisher
from tests.support.stack import ROOT
from worker.agents.feedback import FeedbackError, record_feedback
from worker.agents.runner import execute_task
from worker.agents.runtime import Runtime, build_runtime
from worker.agents.submission import create_task
from worker.agents.tools import ToolContext
from worker.agents.tools.outputs import recommend, record_prediction
from worker.approvals import cli_principal, resolve
from worker.core.contract import RunTaskRequest
from worker.core.database_roles import ensure_runtime_login
from worker.core.settings import Settings
from worker.dev.llm_server import LocalLLMServer
from worker.dev.seed import seed_demo
from worker.ops.agent_performance import aggregate_agent_performance

OWNER = "olivia.owner@acme.example"
APPROVER = "adam.approver@acme.example"
ANALYST_TOOLS = ["recommend", "record_insight", "record_prediction"]


class Harness:
    def __init__(self, runtime: Runtime, llm: LocalLLMServer, engine: sa.Engine) -> None:
        self.runtime, self.llm, self.engine = runtime, llm, engine

    def agent(self, name: str, tools: list[str], arguments: dict[str, Any] | None = None) -> str:
        model = add_agent(self.engine, name, tools=tools)
        if arguments is not None:
            admin(self.llm, "POST", "/_tool_arguments", {"model": model, "arguments": arguments})
        return model

    def run(self, agent: str, text: str = "Look at the conference") -> uuid.UUID:
        with self.engine.begin() as connection:
            task_id = create_task(
                connection,
                Settings(),
                RunTaskRequest(tenant="acme", agent=agent, input=text),
                idempotency_key=None,
            ).task_id
        outcome = self.execute(task_id)
        assert outcome.status in {"succeeded", "awaiting_approval"}, outcome
        return task_id

    def execute(self, task_id: uuid.UUID) -> Any:
        """As a worker does: in the task's tenant scope (row-level security)."""
        (task,) = self.rows("SELECT tenant_id FROM tasks WHERE id = :t", t=task_id)
        with tenant_scope(task.tenant_id):
            return execute_task(self.runtime, task_id)

    def rows(self, sql: str, **params: Any) -> list[sa.Row[Any]]:
        with self.engine.connect() as connection:
            return list(connection.execute(sa.text(sql), params))

    def tool_messages(self, task_id: uuid.UUID) -> list[str]:
        (run,) = self.rows(
            "SELECT (SELECT jsonb_agg(m.message ORDER BY m.seq) "
            "FROM agent_run_messages m WHERE m.run_id = agent_runs.id) AS messages "
            "FROM agent_runs WHERE task_id = :t",
            t=task_id,
        )
        return [m["content"] for m in run.messages if m["role"] == "tool"]


@pytest.fixture
def harness(runtime_database_url: str, engine: sa.Engine) -> Iterator[Harness]:
    with sync_session_factory(engine)() as session:
        seed_demo(session)
    with LocalLLMServer() as llm:
        settings = Settings(
            database_url=runtime_database_url,
            openai_base_url=llm.base_url,
            definition_cache_seconds=0,
        )
        runtime = build_runtime(settings, RecordingPublisher())
        try:
            yield Harness(runtime, llm, engine)
        finally:
            runtime.close()


def _ids(harness: Harness) -> tuple[uuid.UUID, uuid.UUID]:
    (row,) = harness.rows("SELECT tenant_id AS tenant, id AS event FROM events")
    return row.tenant, row.event


# --- the tools write every table, within its CHECKs ------------------------------------------


def test_an_agent_leaves_recommendations_insights_predictions_and_messages(
    harness: Harness,
) -> None:
    harness.agent("analyst", ANALYST_TOOLS)
    # Scripted arguments go into every call of a model: the messenger has one tool.
    harness.agent("messenger", ["send_message"], {"to_user": APPROVER})
    before = datetime.now(UTC)
    task_id = harness.run("analyst")
    message_task = harness.run("messenger")
    _, event_id = _ids(harness)
    (agent,) = harness.rows("SELECT id FROM ai_agents WHERE name = 'analyst'")

    assert not any(m.startswith("error") for m in harness.tool_messages(task_id))
    # For the organisers (the owner; not the approver or the member), about the event.
    (rec,) = harness.rows(
        "SELECT r.*, u.email FROM ai_recommendations r JOIN users u ON u.id = r.user_id"
    )
    assert rec.email == OWNER and rec.event_id == event_id
    assert (rec.recommended_item_type, rec.recommended_item_id) == ("event", event_id)
    assert Decimal("0") <= rec.confidence_score <= Decimal("1")
    assert rec.reasoning["agent_id"] == str(agent.id) and rec.reasoning["reason"]
    assert rec.feedback_score is None and rec.is_accepted is None
    assert before + timedelta(days=29) < rec.expires_at < before + timedelta(days=31)

    (insight,) = harness.rows("SELECT * FROM ai_insights")
    assert insight.event_id == event_id and insight.generated_by_agent_id == agent.id
    assert insight.insight_data["task_id"] == str(task_id)
    assert insight.insight_type == "attendee_behavior"

    (prediction,) = harness.rows("SELECT * FROM ai_predictions")
    assert prediction.prediction_horizon == 1
    assert prediction.model_version.startswith("analyst@1/model-analyst-")
    assert set(prediction.confidence_interval) == {"low", "high"}
    assert before + timedelta(hours=23) < prediction.expires_at < before + timedelta(hours=25)

    (message,) = harness.rows(
        "SELECT c.*, u.email FROM ai_communications c JOIN users u ON u.id = c.recipient_id "
        "WHERE c.personalization_data ->> 'task_id' = :t",
        t=str(message_task),
    )
    assert (message.email, message.communication_type, message.delivery_status) == (
        APPROVER,
        "in_app_message",
        "sent",
    )
    (messenger,) = harness.rows("SELECT id FROM ai_agents WHERE name = 'messenger'")
    assert message.generated_by_agent_id == messenger.id


@pytest.mark.parametrize(
    ("tool", "arguments", "table", "named"),
    [
        ("record_insight", {"confidence": 1.5}, "ai_insights", "confidence"),
        ("record_insight", {"impact": -0.1}, "ai_insights", "impact"),
        ("recommend", {"confidence": 2}, "ai_recommendations", "confidence"),
        ("recommend", {"expires_in_days": 0}, "ai_recommendations", "expires_in_days"),
        ("record_prediction", {"horizon_days": 0}, "ai_predictions", "horizon_days"),
        ("record_prediction", {"low": 5, "high": 1}, "ai_predictions", "interval"),
        ("recommend", {"for_user": "nobody@else.test"}, "ai_recommendations", "nobody@else"),
    ],
)
def test_an_out_of_range_call_is_an_error_to_the_model_and_writes_nothing(
    harness: Harness, tool: str, arguments: dict[str, Any], table: str, named: str
) -> None:
    harness.agent("careless", [tool], arguments)
    task_id = harness.run("careless")

    (content,) = harness.tool_messages(task_id)
    assert content.startswith("error:") and named in content
    assert harness.rows(f"SELECT * FROM {table}") == []
    (action,) = harness.rows("SELECT status FROM action_logs WHERE task_id = :t", t=task_id)
    assert action.status == "failure"


def test_the_database_checks_stand_behind_the_tools(harness: Harness) -> None:
    """Called past its argument schema, a tool meets the seed's CHECK, and says which."""
    tenant_id, event_id = _ids(harness)
    context = ToolContext(
        tenant_id=tenant_id,
        task_id=uuid.uuid4(),
        agent_run_id=None,
        agent_name="direct",
        session_factory=sessionmaker(bind=harness.runtime.engine),
    )
    with tenant_scope(tenant_id):
        refused = r"the database refused the ai_predictions row \(ck_ai_predictions_prediction_ho"
        with pytest.raises(ValueError, match=refused):
            record_prediction(context, "attendance", 1.0, 0.0, 2.0, 0, event_id=str(event_id))
        with pytest.raises(ValueError, match=r"\(ck_ai_recommendations_confidence_score\)"):
            recommend(context, "session", "event", 1.5, "why", event_id=str(event_id))
    assert harness.rows("SELECT id FROM ai_predictions") == []
    assert harness.rows("SELECT id FROM ai_recommendations") == []


# --- generated content waits for an approval -------------------------------------------------


def _content_run(harness: Harness, decision: str) -> tuple[uuid.UUID, Any]:
    harness.agent("writer", ["save_draft_content"], {"title": "Welcome", "content": "Hello!"})
    task_id = harness.run("writer")
    (approval,) = harness.rows("SELECT * FROM approvals WHERE task_id = :t", t=task_id)
    assert approval.payload["tool"] == "save_draft_content"
    assert approval.payload["arguments"]["content"] == "Hello!"
    assert harness.rows("SELECT id FROM ai_generated_content") == []  # nothing before a decision
    with tenant_scope(approval.tenant_id):
        resolve(
            harness.runtime.engine,
            harness.runtime.publisher,
            approval.id,
            decision,
            APPROVER,
            "ok" if decision == "approve" else "off-brand",
            principal=cli_principal(),
        )
    assert harness.execute(task_id).status == "succeeded"
    (decided,) = harness.rows("SELECT * FROM approvals WHERE id = :a", a=approval.id)
    return task_id, decided


def test_approved_content_is_saved_approved_by_its_approver(harness: Harness) -> None:
    _, approval = _content_run(harness, "approve")

    (content,) = harness.rows("SELECT * FROM ai_generated_content")
    (approver,) = harness.rows("SELECT id FROM users WHERE email = :e", e=APPROVER)
    assert content.is_approved is True
    assert content.approved_by == approver.id == approval.decided_by_user_id
    assert content.approved_at == approval.decided_at
    assert (content.title, content.content, content.content_type) == ("Welcome", "Hello!", "report")
    assert content.generated_by_agent_id is not None


def test_rejected_content_is_never_saved_and_the_model_is_told(harness: Harness) -> None:
    task_id, approval = _content_run(harness, "reject")

    assert approval.status == "rejected"
    assert harness.rows("SELECT id FROM ai_generated_content") == []
    assert harness.rows("SELECT id FROM ai_generated_content WHERE is_approved") == []
    (content,) = harness.tool_messages(task_id)
    assert "not run: rejected by a person: off-brand" in content


# --- feedback becomes training data ----------------------------------------------------------


def test_feedback_on_a_recommendation_becomes_one_training_sample(harness: Harness) -> None:
    harness.agent("analyst", ["recommend"])
    harness.run("analyst")
    tenant_id, _ = _ids(harness)
    (rec,) = harness.rows("SELECT id, reasoning FROM ai_recommendations")

    with tenant_scope(tenant_id), harness.runtime.engine.begin() as connection:
        first = record_feedback(connection, rec.id, 4, comment="useful", accepted=True)
    with tenant_scope(tenant_id), harness.runtime.engine.begin() as connection:
        again = record_feedback(connection, str(rec.id), 2, comment="on second thought")

    assert (first.quality_score, first.replaced) == (Decimal("0.75"), False)
    assert (again.quality_score, again.replaced) == (Decimal("0.25"), True)
    (sample,) = harness.rows("SELECT * FROM ai_training_data")
    assert sample.id == first.training_data_id == again.training_data_id
    assert str(sample.agent_id) == rec.reasoning["agent_id"]
    assert (sample.data_type, sample.quality_score) == ("feedback", Decimal("0.25"))
    assert sample.raw_data["recommendation_id"] == str(rec.id)
    assert sample.processed_data == {
        "feedback_score": 2,
        "accepted": True,
        "comment": "on second thought",
    }
    (updated,) = harness.rows("SELECT * FROM ai_recommendations")
    assert (updated.feedback_score, updated.is_accepted) == (2, True)

    with tenant_scope(tenant_id), harness.runtime.engine.begin() as connection:
        with pytest.raises(FeedbackError, match="1 to 5, not 6"):
            record_feedback(connection, rec.id, 6)
        with pytest.raises(FeedbackError, match="no recommendation"):
            record_feedback(connection, uuid.uuid4(), 3)


def test_the_feedback_command_records_it(harness: Harness, database_url: str) -> None:
    harness.agent("analyst", ["recommend"])
    harness.run("analyst")
    (rec,) = harness.rows("SELECT id FROM ai_recommendations")

    done = subprocess.run(
        [
            *(sys.executable, "-c", "from worker.cli import main; main()", "recommendations"),
            *("feedback", str(rec.id), "--tenant", "acme", "--score", "5", "--json"),
        ],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": ensure_runtime_login(database_url)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert (shown["score"], shown["quality_score"], shown["replaced"]) == (5, "1.00", False)
    (sample,) = harness.rows("SELECT id, quality_score FROM ai_training_data")
    assert (str(sample.id), sample.quality_score) == (shown["training_data_id"], Decimal("1.00"))


# --- ai_agent_performance --------------------------------------------------------------------


def test_performance_is_aggregated_from_runs_once_per_day(harness: Harness) -> None:
    harness.agent("analyst", ["record_insight"])
    harness.agent("careless", ["record_insight"], {"confidence": 7})
    for agent in ("analyst", "analyst", "careless"):
        harness.run(agent)
    today = datetime.now(UTC).date()

    first = aggregate_agent_performance(harness.runtime.engine, [today])
    rows = harness.rows(
        "SELECT a.name, p.metric_name, p.metric_value, p.context, p.measurement_date "
        "FROM ai_agent_performance p JOIN ai_agents a ON a.id = p.agent_id"
    )
    again = aggregate_agent_performance(harness.runtime.engine, [today])

    figures = {(r.name, r.metric_name): r.metric_value for r in rows}
    (runs,) = harness.rows(
        "SELECT sum(prompt_tokens + completion_tokens) AS tokens, sum(llm_calls) AS calls, "
        "sum(cost) AS cost FROM agent_runs r JOIN ai_agents a ON a.id = r.agent_id "
        "WHERE a.name = 'analyst'"
    )
    assert figures[("analyst", "runs")] == figures[("analyst", "finished_runs")] == 2
    assert figures[("careless", "runs")] == 1
    # A tool error is the model's to handle: the run still completes.
    assert figures[("analyst", "success_rate")] == figures[("careless", "success_rate")] == 1
    assert figures[("analyst", "kilotokens")] == Decimal(runs.tokens) / 1000
    assert figures[("analyst", "llm_calls")] == runs.calls
    assert figures[("analyst", "cost_usd")] == runs.cost
    assert figures[("analyst", "avg_run_seconds")] > 0
    assert figures[("analyst", "llm_latency_ms")] > 0
    assert all(r.context["source"] == "daily_aggregate" for r in rows)
    assert {r.measurement_date for r in rows} == {
        datetime(today.year, today.month, today.day, tzinfo=UTC)
    }
    assert first.rows == again.rows == len(rows)
    after = harness.rows("SELECT agent_id, metric_name, metric_value FROM ai_agent_performance")
    assert len(after) == len(rows)  # replaced, not doubled

    harness.run("careless")
    aggregate_agent_performance(harness.runtime.engine, [today])
    (careless_runs,) = harness.rows(
        "SELECT metric_value FROM ai_agent_performance p JOIN ai_agents a ON a.id = p.agent_id "
        "WHERE a.name = 'careless' AND metric_name = 'runs'"
    )
    assert careless_runs.metric_value == 2


# --- model versions --------------------------------------------------------------------------


def _versions(harness: Harness, agent: str) -> list[sa.Row[Any]]:
    return harness.rows(
        "SELECT v.* FROM ai_model_versions v JOIN ai_agents a ON a.id = v.agent_id "
        "WHERE a.name = :n ORDER BY v.created_at",
        n=agent,
    )


def _configure(harness: Harness, temperature: float) -> None:
    with harness.engine.begin() as connection:
        connection.execute(
            sa.text(
                "UPDATE ai_agents SET configuration = configuration || "
                "jsonb_build_object('temperature', CAST(:t AS float8)) WHERE name = 'assistant'"
            ),
            {"t": temperature},
        )


def test_a_model_version_is_recorded_per_distinct_configuration(harness: Harness) -> None:
    assert _versions(harness, "assistant") == []  # the seed saved it; it has not run yet

    harness.run("assistant", "[[no-tools]] hello")
    harness.run("assistant", "[[no-tools]] hello again")
    (first,) = _versions(harness, "assistant")  # the same configuration twice: one version
    assert (first.version_number, first.is_active) == ("1", True)
    assert first.hyperparameters["configuration"]["temperature"] == 0.2
    assert first.model_path.endswith(first.hyperparameters["configuration_sha256"][:12])

    _configure(harness, 0.7)
    harness.run("assistant", "[[no-tools]] changed")
    harness.run("assistant", "[[no-tools]] changed again")
    old, new = _versions(harness, "assistant")
    assert (old.id, old.is_active) == (first.id, False)
    assert (new.version_number, new.is_active) == ("2", True)
    assert new.hyperparameters["configuration"]["temperature"] == 0.7
    assert (
        new.hyperparameters["configuration_sha256"] != old.hyperparameters["configuration_sha256"]
    )

    _configure(harness, 0.2)
    harness.run("assistant", "[[no-tools]] back")
    old, new = _versions(harness, "assistant")  # the first configuration is back: no third row
    assert (old.id, old.is_active, new.is_active) == (first.id, True, False)


def test_beat_runs_the_aggregation() -> None:
    import celeryconfig
    import tasks.maintenance  # noqa: F401 (registers the task)
    from worker.app import app

    entry = celeryconfig.beat_schedule["aggregate-agent-performance"]
    assert entry["task"] == "maintenance.aggregate_agent_performance"
    assert entry["task"] in app.tasks
    assert entry["schedule"] == 900
