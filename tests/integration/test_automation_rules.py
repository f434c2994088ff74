"""Automation rules at work, on the worker's confined database role: a rule fires once per
event however often (or however concurrently) the firing step runs, a rule that triggers itself
is stopped at the depth limit with a refused firing, a schedule fires once per slot, a rule that
cannot work is refused when saved, and ``rules test`` is a dry run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import yaml

from models import EventType, FiringStatus
from models.tenant_scope import tenant_scope
from tests.support.agents import add_agent, ensure_tenant
from tests.support.publisher import RecordingPublisher
from tests.support.stack import ROOT
from tests.support.workflows import add_workflow
from worker.automation import InvalidRule, get_rule, save_rule, sweep
from worker.automation.firing import Fired, Trigger, fire
from worker.automation.sweep import event_subject
from worker.core.contract import ADVANCE_WORKFLOW, RUN_TASK
from worker.core.settings import Settings
from worker.durable import records
from worker.workflows.catalog import start_execution

SETTINGS = Settings(automation_max_depth=3)

ON_BOOM = {
    "name": "rerun-on-boom",
    "trigger": {
        "event": "ERROR",
        "condition": {"field": "data.code", "op": "eq", "value": "boom"},
    },
    "action": {
        "run_agent": {"agent": "helper", "input": "It failed: {{ event.content }}", "priority": 3}
    },
}


def _save(runtime_engine: sa.Engine, tenant_id: uuid.UUID, document: dict[str, Any]) -> uuid.UUID:
    with tenant_scope(tenant_id), runtime_engine.begin() as connection:
        return save_rule(connection, tenant_id, document, actor="test").rule_id


def _event(
    engine: sa.Engine, tenant_id: uuid.UUID, event_type: EventType, content: str, data: Any
) -> int:
    with engine.begin() as connection:
        records.write(
            connection, events=[records.event(records.Scope(tenant_id), event_type, content, data)]
        )
        return int(
            connection.execute(
                sa.text("SELECT max(id) FROM event_logs WHERE tenant_id = :t"), {"t": tenant_id}
            ).scalar_one()
        )


def _count(engine: sa.Engine, query: str, **params: Any) -> int:
    with engine.connect() as connection:
        return int(connection.execute(sa.text(query), params).scalar_one())


def test_a_rule_fires_once_per_event_when_the_sweep_runs_again(
    engine: sa.Engine, runtime_engine: sa.Engine
) -> None:
    add_agent(engine, "helper")
    acme = ensure_tenant(engine, "acme")
    globex = ensure_tenant(engine, "globex")
    rule_id = _save(runtime_engine, acme, ON_BOOM)
    boom = _event(engine, acme, EventType.ERROR, "tool exploded", {"code": "boom"})
    _event(engine, acme, EventType.ERROR, "other failure", {"code": "fizzle"})
    _event(engine, acme, EventType.LOG, "boom, but a log", {"code": "boom"})
    _event(engine, globex, EventType.ERROR, "another tenant's", {"code": "boom"})
    publisher = RecordingPublisher()

    first = sweep(runtime_engine, publisher, SETTINGS)
    again = sweep(runtime_engine, publisher, SETTINGS)
    # A sweep that died before its cursor moved reads the same events again.
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "UPDATE automation_cursors SET writer_xid = 0, event_id = 0 WHERE tenant_id = :t"
            ),
            {"t": acme},
        )
    redelivered = sweep(runtime_engine, publisher, SETTINGS)

    assert first.firings == {"fired": 1} and first.repeated == 0
    assert again.firings == {} and again.repeated == 0
    assert redelivered.firings == {} and redelivered.repeated == 1
    with engine.connect() as connection:
        task = connection.execute(
            sa.text(
                "SELECT id, agent_name, input_prompt, priority, idempotency_key, metadata "
                "FROM tasks"
            )
        ).one()
        firing = connection.execute(
            sa.text("SELECT status, depth, event_log_id, task_id FROM automation_firings")
        ).one()
        rule = connection.execute(
            sa.text("SELECT execution_count, success_rate, last_executed_at FROM automation_rules")
        ).one()
    assert (task.agent_name, task.input_prompt, task.priority) == (
        "helper",
        "It failed: tool exploded",
        3,
    )
    assert task.idempotency_key == f"automation:{rule_id}:event:{boom}"
    assert task.metadata["automation"]["depth"] == 1
    assert tuple(firing) == ("fired", 1, boom, task.id)
    assert rule.execution_count == 1 and rule.success_rate == 1 and rule.last_executed_at
    assert publisher.sent == [(RUN_TASK, {"task_id": str(task.id)}, None)]
    assert _count(engine, "SELECT count(*) FROM audit_logs WHERE action = 'automation.fired'") == 1
    assert (
        _count(
            engine,
            "SELECT count(*) FROM event_logs WHERE event_type = 'SYSTEM' AND task_id = :t "
            "AND data -> 'automation_firing' ->> 'status' = 'fired'",
            t=task.id,
        )
        == 1
    )


def test_concurrent_firings_of_one_event_run_the_action_once(
    engine: sa.Engine, runtime_engine: sa.Engine
) -> None:
    add_agent(engine, "helper")
    acme = ensure_tenant(engine, "acme")
    _save(runtime_engine, acme, ON_BOOM)
    boom = _event(engine, acme, EventType.ERROR, "tool exploded", {"code": "boom"})
    with tenant_scope(acme), runtime_engine.begin() as connection:
        rule = get_rule(connection, acme, "rerun-on-boom")
        row = connection.execute(sa.text("SELECT * FROM event_logs WHERE id = :i"), {"i": boom})
        trigger = Trigger.of_event(event_subject(row.one()), depth=0)
    publisher = RecordingPublisher()
    results: list[Fired] = []
    start = threading.Barrier(6)

    def attempt() -> None:
        start.wait()
        with tenant_scope(acme):
            results.append(fire(runtime_engine, publisher, SETTINGS, rule, trigger))

    threads = [threading.Thread(target=attempt) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(results) == 6
    assert sorted(r.created for r in results) == [False] * 5 + [True]
    assert len({r.firing_id for r in results}) == 1
    assert _count(engine, "SELECT count(*) FROM tasks") == 1
    assert _count(engine, "SELECT count(*) FROM automation_firings") == 1
    assert publisher.names() == [RUN_TASK]


def test_a_self_triggering_rule_is_stopped_at_the_depth_limit(
    engine: sa.Engine, runtime_engine: sa.Engine
) -> None:
    add_agent(engine, "helper")
    add_workflow(engine, "loop", [{"key": "work", "kind": "agent", "agent": "helper"}])
    acme = ensure_tenant(engine, "acme")
    # Every execution that starts (a STATE_CHANGE "pending" event) starts the workflow again.
    rule_id = _save(
        runtime_engine,
        acme,
        {
            "name": "restart-loop",
            "trigger": {
                "event": "STATE_CHANGE",
                "condition": {"field": "data.status", "op": "eq", "value": "pending"},
            },
            "action": {"start_workflow": {"workflow": "loop", "input": {"again": True}}},
        },
    )
    with tenant_scope(acme), runtime_engine.begin() as connection:
        start_execution(
            connection, tenant="acme", workflow="loop", input={}, idempotency_key="by-hand"
        )
    publisher = RecordingPublisher()

    reports = [sweep(runtime_engine, publisher, SETTINGS) for _ in range(6)]

    assert [dict(r.firings) for r in reports] == [
        {"fired": 1},
        {"fired": 1},
        {"fired": 1},
        {"refused": 1},
        {},
        {},
    ]
    with engine.connect() as connection:
        firings = connection.execute(
            sa.text(
                "SELECT status, depth, workflow_execution_id, error FROM automation_firings "
                "ORDER BY depth"
            )
        ).all()
    assert [(f.status, f.depth) for f in firings] == [
        ("fired", 1),
        ("fired", 2),
        ("fired", 3),
        ("refused", 4),
    ]
    refused = firings[-1]
    assert refused.workflow_execution_id is None
    assert "AGENTWORKER_AUTOMATION_MAX_DEPTH" in refused.error and "is 3" in refused.error
    assert _count(engine, "SELECT count(*) FROM ai_workflow_executions") == 4  # 1 + 3 fired
    assert publisher.names() == [ADVANCE_WORKFLOW] * 3
    assert (
        _count(engine, "SELECT count(*) FROM audit_logs WHERE action = 'automation.refused'") == 1
    )
    assert (
        _count(
            engine,
            "SELECT count(*) FROM event_logs WHERE data -> 'automation_firing' ->> 'status' "
            "= 'refused'",
        )
        == 1
    )
    with engine.connect() as connection:
        rule = connection.execute(
            sa.text("SELECT execution_count, success_rate FROM automation_rules WHERE id = :r"),
            {"r": rule_id},
        ).one()
    assert rule.execution_count == 3  # refusals ran nothing


def _member(engine: sa.Engine, tenant_id: uuid.UUID, email: str) -> uuid.UUID:
    with engine.begin() as connection:
        user_id = connection.execute(
            sa.text("INSERT INTO users (email) VALUES (:e) RETURNING id"), {"e": email}
        ).scalar_one()
        connection.execute(
            sa.text(
                "INSERT INTO tenant_memberships (tenant_id, user_id, role) "
                "VALUES (:t, :u, 'member')"
            ),
            {"t": tenant_id, "u": user_id},
        )
    return user_id


def test_a_schedule_fires_once_per_slot(engine: sa.Engine, runtime_engine: sa.Engine) -> None:
    acme = ensure_tenant(engine, "acme")
    user_id = _member(engine, acme, "ops@acme.test")
    in_app = _save(
        runtime_engine,
        acme,
        {
            "name": "hourly-digest",
            "trigger": {"schedule": {"every": "1h"}},
            "action": {
                "send_communication": {
                    "to": "ops@acme.test",
                    "subject": "Digest",
                    "content": "The digest of {{ slot }}",
                }
            },
        },
    )
    _save(
        runtime_engine,
        acme,
        {
            "name": "morning-mail",
            "trigger": {"schedule": {"cron": "0 9 * * *"}},
            "action": {
                "send_communication": {"to": str(user_id), "channel": "email", "content": "Hi"}
            },
        },
    )
    nine = datetime(2026, 12, 3, 9, 0, 30, tzinfo=UTC)
    publisher = RecordingPublisher()

    for now in (nine, nine, nine + timedelta(minutes=5), nine + timedelta(minutes=59)):
        sweep(runtime_engine, publisher, SETTINGS, now=now)
    sweep(runtime_engine, publisher, SETTINGS, now=nine + timedelta(hours=1))

    with engine.connect() as connection:
        rows = connection.execute(
            sa.text(
                "SELECT communication_type, recipient_id, content, delivery_status, "
                "automation_rule_id, personalization_data FROM ai_communications "
                "ORDER BY communication_type, created_at, content"
            )
        ).all()
        slots = (
            connection.execute(
                sa.text("SELECT idempotency_key FROM automation_firings ORDER BY idempotency_key")
            )
            .scalars()
            .all()
        )
    emails = [r for r in rows if r.communication_type == "email"]
    in_apps = [r for r in rows if r.communication_type == "in_app_message"]
    assert len(emails) == 1  # 09:00 once; 10:00 is not a 9 o'clock slot
    assert emails[0].delivery_status == "pending"  # the notification sweep sends it by SMTP
    assert emails[0].personalization_data["to"] == "ops@acme.test"
    assert sorted(r.content for r in in_apps) == [
        "The digest of 2026-12-03T09:00:00+00:00",
        "The digest of 2026-12-03T10:00:00+00:00",
    ]
    assert all(r.delivery_status == "sent" and r.recipient_id == user_id for r in in_apps)
    assert {r.automation_rule_id for r in in_apps} == {in_app}
    assert slots == [
        "schedule:2026-12-03T09:00:00+00:00",
        "schedule:2026-12-03T09:00:00+00:00",
        "schedule:2026-12-03T10:00:00+00:00",
    ]
    assert publisher.sent == []


def test_an_action_that_cannot_run_is_a_failed_firing(
    engine: sa.Engine, runtime_engine: sa.Engine
) -> None:
    add_agent(engine, "helper")
    acme = ensure_tenant(engine, "acme")
    _save(runtime_engine, acme, ON_BOOM)
    with engine.begin() as connection:
        connection.execute(sa.text("DELETE FROM ai_agents WHERE name = 'helper'"))
    _event(engine, acme, EventType.ERROR, "tool exploded", {"code": "boom"})

    report = sweep(runtime_engine, RecordingPublisher(), SETTINGS)

    assert report.firings == {"failed": 1}
    with engine.connect() as connection:
        firing = connection.execute(sa.text("SELECT status, error FROM automation_firings")).one()
        rule = connection.execute(
            sa.text("SELECT execution_count, success_rate FROM automation_rules")
        ).one()
    assert firing.status == FiringStatus.FAILED and "unknown agent 'helper'" in firing.error
    assert (rule.execution_count, rule.success_rate) == (1, 0)
    assert _count(engine, "SELECT count(*) FROM tasks") == 0


def test_saving_refuses_an_invalid_rule_and_names_what_exists(
    engine: sa.Engine, runtime_engine: sa.Engine
) -> None:
    add_agent(engine, "helper")
    acme = ensure_tenant(engine, "acme")
    wrong_agent = {**ON_BOOM, "action": {"run_agent": {"agent": "helpr", "input": "x"}}}
    no_workflow = {**ON_BOOM, "action": {"start_workflow": {"workflow": "nope"}}}
    nobody = {**ON_BOOM, "action": {"send_communication": {"to": "x@y.z", "content": "hi"}}}

    messages = []
    for document in (wrong_agent, no_workflow, nobody):
        try:
            _save(runtime_engine, acme, document)
        except InvalidRule as error:
            messages.append(str(error))

    assert len(messages) == 3
    assert messages[0].startswith("action.run_agent: unknown agent 'helpr'")
    assert "helper" in messages[0]
    assert messages[1] == (
        "action.start_workflow.workflow: unknown workflow 'nope'; active workflows: none "
        "(save one with `agentworker workflows save`)"
    )
    assert "'x@y.z' is not an active user of this tenant" in messages[2]
    assert _count(engine, "SELECT count(*) FROM automation_rules") == 0


def _cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from worker.cli import main; main()", "rules", *args],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_cli_saves_lists_and_dry_runs_a_rule(
    database_url: str, engine: sa.Engine, tmp_path: Path
) -> None:
    add_agent(engine, "helper")
    acme = ensure_tenant(engine, "acme")
    boom = _event(engine, acme, EventType.ERROR, "tool exploded", {"code": "boom"})
    _event(engine, acme, EventType.ERROR, "other failure", {"code": "fizzle"})
    rule_file = tmp_path / "rule.yaml"
    rule_file.write_text(yaml.safe_dump(ON_BOOM))
    broken = tmp_path / "broken.json"
    broken.write_text(
        json.dumps({**ON_BOOM, "trigger": {"event": "ERROR", "condition": {"field": "x"}}})
    )

    dry_run = _cli(database_url, "test", "--tenant", "acme", "--file", str(rule_file), "--json")
    shown = _cli(database_url, "test", "--tenant", "acme", "--file", str(rule_file))
    refused = _cli(database_url, "save", "--tenant", "acme", "--file", str(broken))
    saved = _cli(database_url, "save", "--tenant", "acme", "--file", str(rule_file))
    replaced = _cli(database_url, "save", "--tenant", "acme", "--file", str(rule_file))
    listed = _cli(database_url, "list", "--tenant", "acme")

    assert dry_run.returncode == 0, dry_run.stderr
    preview = json.loads(dry_run.stdout)
    assert preview["examined"] == 2
    assert [(w["trigger"], w["outcome"], w["depth"]) for w in preview["would_fire"]] == [
        (f"event:{boom}", "fire", 1)
    ]
    assert shown.returncode == 0 and "1 of 2 examined would trigger it (dry run)" in shown.stdout
    assert refused.returncode == 1
    assert "trigger.condition.op: unknown operator None; use one of eq" in refused.stderr
    assert saved.returncode == 0 and "rule 'rerun-on-boom' created" in saved.stdout, saved.stderr
    assert replaced.returncode == 0 and "rule 'rerun-on-boom' replaced" in replaced.stdout
    assert listed.returncode == 0 and "rerun-on-boom" in listed.stdout
    assert "on ERROR if condition" in listed.stdout
    # The dry run fired nothing; saving fires nothing on the events written before the rule.
    assert _count(engine, "SELECT count(*) FROM automation_firings") == 0
    assert _count(engine, "SELECT count(*) FROM tasks") == 0
    assert _count(engine, "SELECT count(*) FROM automation_rules") == 1
