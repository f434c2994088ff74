from __future__ import annotations

import sqlalchemy as sa

import models
from tests.support.rows import RowFactory


def _count(connection: sa.Connection, table: str) -> int:
    return int(connection.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


def test_every_foreign_key_names_its_on_delete_rule() -> None:
    missing = [
        f"{fk.parent.table.name}.{fk.parent.name}"
        for table in models.Base.metadata.sorted_tables
        for fk in table.foreign_keys
        if fk.ondelete is None
    ]
    assert missing == []


def test_deleting_a_tenant_removes_its_tasks_runs_events_and_approvals(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        rows = RowFactory(connection)
        task_id = rows.insert("tasks")
        run_id = rows.insert("agent_runs", task_id=task_id)
        rows.insert("event_logs", task_id=task_id, agent_run_id=run_id)
        rows.insert("approvals", task_id=task_id, agent_run_id=run_id)
        rows.insert("action_logs", task_id=task_id, agent_run_id=run_id)
        other = RowFactory(connection)
        other.insert("tasks")
        tenant_id = rows.tenant_id

    with engine.begin() as connection:
        connection.execute(sa.text("DELETE FROM tenants WHERE id = :id"), {"id": tenant_id})

    with engine.connect() as connection:
        assert _count(connection, "tasks") == 1  # the other tenant's task stays
        for table in ("agent_runs", "event_logs", "approvals", "action_logs"):
            assert _count(connection, table) == 0, table


def test_deleting_a_tenant_removes_every_row_that_carries_its_id(engine: sa.Engine) -> None:
    tenant_tables = [t.name for t in models.Base.metadata.sorted_tables if "tenant_id" in t.c]
    with engine.begin() as connection:
        rows = RowFactory(connection)
        for table in tenant_tables:
            rows.insert(table)
        tenant_id = rows.tenant_id
    with engine.begin() as connection:
        connection.execute(sa.text("DELETE FROM tenants WHERE id = :id"), {"id": tenant_id})
        left = {table: _count(connection, table) for table in tenant_tables}
    assert {table: n for table, n in left.items() if n} == {}


def test_set_null_rules_keep_the_child_and_forget_the_parent(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        rows = RowFactory(connection)
        agent_id = rows.insert("ai_agents")
        user_id = rows.insert("users")
        event_id = rows.insert("events")
        task_id = rows.insert("tasks", agent_id=agent_id)
        approval_id = rows.insert(
            "approvals",
            task_id=task_id,
            status="approved",
            decided_at=sa.func.now(),
            decided_by_user_id=user_id,
        )
        content_id = rows.insert(
            "ai_generated_content", source_event_id=event_id, generated_by_agent_id=agent_id
        )

    with engine.begin() as connection:
        for table, row_id in (("ai_agents", agent_id), ("users", user_id), ("events", event_id)):
            connection.execute(sa.text(f"DELETE FROM {table} WHERE id = :id"), {"id": row_id})

    with engine.connect() as connection:
        assert connection.execute(
            sa.text("SELECT agent_id FROM tasks WHERE id = :id"), {"id": task_id}
        ).one() == (None,)
        assert connection.execute(
            sa.text("SELECT decided_by_user_id, status FROM approvals WHERE id = :id"),
            {"id": approval_id},
        ).one() == (None, "approved")
        assert connection.execute(
            sa.text(
                "SELECT source_event_id, generated_by_agent_id FROM ai_generated_content "
                "WHERE id = :id"
            ),
            {"id": content_id},
        ).one() == (None, None)
