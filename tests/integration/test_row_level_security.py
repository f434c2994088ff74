"""Tenant isolation enforced by PostgreSQL (migration 0007, ``models.tenant_scope``), seen
through the worker's own role, which owns nothing and cannot bypass row-level security."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa

import models
from models.tenant_scope import tenant_scope
from tests.support.rows import RowFactory
from worker.durable import schema


def _two_tenants_with_tasks(engine: sa.Engine) -> tuple[uuid.UUID, uuid.UUID]:
    """Tenants A and B with one task each, written as the owner (no policy applies to it)."""
    with engine.begin() as connection:
        a, b = RowFactory(connection), RowFactory(connection)
        a.insert("tasks", title="a's task")
        b.insert("tasks", title="b's task")
        return a.tenant_id, b.tenant_id


def _titles(connection: sa.Connection) -> list[str]:
    return list(connection.execute(sa.text("SELECT title FROM tasks ORDER BY title")).scalars())


def test_every_tenant_table_has_row_level_security_forced_and_a_policy(engine: sa.Engine) -> None:
    with engine.connect() as connection:
        rows = connection.execute(
            sa.text(
                """
                SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity,
                       (SELECT count(*) FROM pg_policy p WHERE p.polrelid = c.oid) AS policies
                  FROM pg_class c
                  JOIN pg_namespace n ON n.oid = c.relnamespace
                  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id'
                 WHERE n.nspname = current_schema() AND c.relkind = 'r'
                """
            )
        ).all()
    assert len(rows) > 40  # the seeds' tables are there: the query found them
    unprotected = [
        f"{row.relname} (rls={row.relrowsecurity}, force={row.relforcerowsecurity}, "
        f"policies={row.policies})"
        for row in rows
        if not (row.relrowsecurity and row.relforcerowsecurity and row.policies)
    ]
    assert unprotected == [], "call agentworker_protect_tenant_table() in its migration"


def test_a_tenant_sees_and_writes_only_its_own_rows(
    engine: sa.Engine, runtime_engine: sa.Engine
) -> None:
    a, b = _two_tenants_with_tasks(engine)
    with tenant_scope(a), runtime_engine.begin() as connection:
        assert _titles(connection) == ["a's task"]
        assert (
            connection.execute(
                sa.text("SELECT count(*) FROM tasks WHERE tenant_id = :b"), {"b": b}
            ).scalar_one()
            == 0
        )
        updated = connection.execute(
            sa.text("UPDATE tasks SET title = 'taken' WHERE tenant_id = :b"), {"b": b}
        ).rowcount
        assert updated == 0
    with (
        tenant_scope(a),
        runtime_engine.connect() as connection,
        pytest.raises(sa.exc.ProgrammingError, match="row-level security"),
    ):
        connection.execute(
            sa.text("INSERT INTO tasks (tenant_id, title) VALUES (:b, 'planted')"), {"b": b}
        )


def test_with_no_tenant_set_no_tenant_rows_are_visible(
    engine: sa.Engine, runtime_engine: sa.Engine
) -> None:
    _two_tenants_with_tasks(engine)
    with runtime_engine.begin() as connection:
        assert _titles(connection) == []
    with tenant_scope(None), runtime_engine.begin() as connection:
        assert _titles(connection) == []


def test_a_pooled_connection_used_for_a_then_b_sees_only_b(
    engine: sa.Engine, runtime_database_url: str
) -> None:
    a, b = _two_tenants_with_tasks(engine)
    from models import db

    one_connection = db.create_sync_engine(runtime_database_url, pool_size=1, max_overflow=0)
    try:
        with tenant_scope(a), one_connection.begin() as connection:
            assert _titles(connection) == ["a's task"]
            backend = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        with tenant_scope(b), one_connection.begin() as connection:
            assert connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one() == backend
            assert _titles(connection) == ["b's task"]
        with one_connection.begin() as connection:  # the setting reads '' now, not NULL
            assert _titles(connection) == []
    finally:
        one_connection.dispose()


def test_an_autocommit_connection_is_scoped_and_cleared_when_it_goes_back_to_the_pool(
    engine: sa.Engine, runtime_database_url: str
) -> None:
    a, _ = _two_tenants_with_tasks(engine)
    from models import db

    one_connection = db.create_sync_engine(runtime_database_url, pool_size=1, max_overflow=0)
    try:
        with (
            tenant_scope(a),
            one_connection.connect().execution_options(isolation_level="AUTOCOMMIT") as connection,
        ):
            assert _titles(connection) == ["a's task"]
        with one_connection.begin() as connection:
            assert _titles(connection) == []
        with one_connection.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            assert _titles(connection) == []
    finally:
        one_connection.dispose()


def test_cross_tenant_questions_go_through_functions_that_return_ids_only(
    engine: sa.Engine, runtime_engine: sa.Engine
) -> None:
    a, b = _two_tenants_with_tasks(engine)
    with engine.begin() as connection:
        task_of_b = connection.execute(
            sa.text("SELECT id FROM tasks WHERE tenant_id = :b"), {"b": b}
        ).scalar_one()
    with tenant_scope(a), runtime_engine.begin() as connection:
        assert (
            connection.execute(
                sa.text("SELECT agentworker_tenant_of_task(:t)"), {"t": task_of_b}
            ).scalar_one()
            == b
        )
        open_work = set(
            connection.execute(sa.text("SELECT agentworker_tenants_with_open_work()")).scalars()
        )
        assert {a, b} <= open_work


def test_the_runtime_role_cannot_change_the_schema_or_the_migration_record(
    runtime_engine: sa.Engine,
) -> None:
    with (
        runtime_engine.connect() as connection,
        pytest.raises(sa.exc.ProgrammingError, match=r"permission denied|must be owner"),
    ):
        connection.exec_driver_sql("ALTER TABLE tasks DISABLE ROW LEVEL SECURITY")
    with (
        runtime_engine.connect() as connection,
        pytest.raises(sa.exc.ProgrammingError, match="permission denied"),
    ):
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = 'x'")


def test_a_worker_refuses_a_role_that_row_level_security_would_not_confine(
    engine: sa.Engine, runtime_engine: sa.Engine
) -> None:
    with pytest.raises(schema.PrivilegedRuntimeRole, match="superuser"):
        schema.assert_runtime_role_confined(engine)
    schema.assert_runtime_role_confined(runtime_engine)


def _stale_running_task(connection: sa.Connection, rows: RowFactory) -> uuid.UUID:
    return rows.insert(
        "tasks",
        status="RUNNING",
        lease_owner="gone@host",
        lease_expires_at=sa.func.now() - sa.text("interval '1 minute'"),
    )


def test_the_reaper_as_the_runtime_role_recovers_every_tenants_work(
    engine: sa.Engine, runtime_engine: sa.Engine
) -> None:
    from tests.support.publisher import RecordingPublisher
    from worker.durable.reaper import reap

    with engine.begin() as connection:
        stale = {_stale_running_task(connection, RowFactory(connection)) for _ in range(2)}
    publisher = RecordingPublisher()
    report = reap(runtime_engine, publisher, stale_after_seconds=300)
    assert report.requeued_after_lost_worker == 2
    assert {kwargs["task_id"] for _, kwargs, _ in publisher.sent} == {str(t) for t in stale}


def test_expiry_as_the_runtime_role_expires_every_tenants_approvals(
    engine: sa.Engine, runtime_engine: sa.Engine
) -> None:
    from tests.support.publisher import RecordingPublisher
    from worker.approvals.expiry import expire_due

    with engine.begin() as connection:
        for _ in range(2):
            RowFactory(connection).insert(
                "approvals", expires_at=sa.func.now() - sa.text("interval '1 second'")
            )
    assert expire_due(runtime_engine, RecordingPublisher()) == 2


def test_the_heartbeat_as_the_runtime_role_renews_leases_of_every_tenant(
    engine: sa.Engine, runtime_engine: sa.Engine
) -> None:
    from worker.durable.leases import LeaseHeartbeat

    with engine.begin() as connection:
        tasks = [
            RowFactory(connection).insert(
                "tasks", status="RUNNING", lease_owner="me@host", lease_expires_at=sa.func.now()
            )
            for _ in range(2)
        ]
    heartbeat = LeaseHeartbeat(runtime_engine, "me@host", 30)
    with heartbeat.holding(tasks[0]), heartbeat.holding(tasks[1]):
        assert heartbeat.beat() == 2


def test_fleet_metrics_as_the_runtime_role_count_every_tenant(
    engine: sa.Engine, runtime_engine: sa.Engine
) -> None:
    from worker.ops.metrics import DatabaseCollector

    _two_tenants_with_tasks(engine)
    snapshot = DatabaseCollector(runtime_engine).read()
    assert sum(snapshot.tasks.values()) == 2


def test_every_tenant_can_be_looked_up_but_only_its_own_row_changed(
    engine: sa.Engine, runtime_engine: sa.Engine
) -> None:
    a, b = _two_tenants_with_tasks(engine)
    with tenant_scope(a), runtime_engine.begin() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM tenants")).scalar_one() == 2
        change = sa.text("UPDATE tenants SET name = 'renamed' WHERE id = :t")
        assert connection.execute(change, {"t": b}).rowcount == 0
        assert connection.execute(change, {"t": a}).rowcount == 1


def test_a_user_signed_in_sees_only_the_recommendations_addressed_to_them(
    engine: sa.Engine, runtime_engine: sa.Engine
) -> None:
    with engine.begin() as connection:
        rows = RowFactory(connection)
        mine, theirs = rows.insert("users"), rows.insert("users")
        for user in (mine, theirs):
            rows.insert("ai_recommendations", user_id=user)
        tenant = rows.tenant_id
    count = sa.text("SELECT count(*) FROM ai_recommendations")
    with tenant_scope(tenant), runtime_engine.begin() as connection:
        assert connection.execute(count).scalar_one() == 2  # the worker, acting for the tenant
    with tenant_scope(tenant, user_id=mine), runtime_engine.begin() as connection:
        assert connection.execute(count).scalar_one() == 1


def test_only_a_tenants_admins_and_owners_change_its_agents_when_signed_in(
    engine: sa.Engine, runtime_engine: sa.Engine
) -> None:
    with engine.begin() as connection:
        rows = RowFactory(connection)
        member, admin = rows.insert("users"), rows.insert("users")
        rows.insert("tenant_memberships", user_id=member, role="member")
        rows.insert("tenant_memberships", user_id=admin, role="admin")
        tenant = rows.tenant_id
    agents = models.Base.metadata.tables["ai_agents"]

    def add_agent(connection: sa.Connection, name: str) -> None:
        values = RowFactory(connection).values(agents, {"tenant_id": tenant, "name": name})
        connection.execute(sa.insert(agents).values(values))

    with (
        tenant_scope(tenant, user_id=member),
        runtime_engine.begin() as connection,
        pytest.raises(sa.exc.ProgrammingError, match="row-level security"),
    ):
        add_agent(connection, "by-member")
    with tenant_scope(tenant, user_id=admin), runtime_engine.begin() as connection:
        add_agent(connection, "by-admin")


def test_a_key_and_a_user_token_authenticate_through_the_runtime_role(
    engine: sa.Engine, runtime_engine: sa.Engine
) -> None:
    from tests.support.agents import ensure_tenant
    from tests.support.people import add_member
    from worker.security.api_keys import authenticate_bearer, issue_key
    from worker.security.encryption import SecretBox, generate_key
    from worker.security.user_tokens import authenticate_user_token, issue_user_token

    tenant_id = ensure_tenant(engine, "acme")
    add_member(engine, "acme", "ana@example.com", "approver")
    with engine.begin() as connection:
        key = issue_key(
            connection,
            SecretBox([generate_key()]),
            tenant_id=tenant_id,
            name="billing",
            scopes=["submit"],
        ).key
        token = issue_user_token(connection, tenant_id=tenant_id, email="ana@example.com").token
    with runtime_engine.begin() as connection:  # no tenant yet: the prefix names it
        assert authenticate_bearer(connection, key).tenant_id == tenant_id
    with runtime_engine.begin() as connection:
        assert authenticate_user_token(connection, token).tenant_id == tenant_id


def test_a_tenants_vector_search_returns_k_hits_though_another_tenant_crowds_the_index(
    engine: sa.Engine, runtime_engine: sa.Engine
) -> None:
    import random

    from models.knowledge import EMBEDDING_DIM
    from worker.agents.knowledge import _nearest

    rng = random.Random(7)
    query = [1.0] + [0.0] * (EMBEDDING_DIM - 1)

    def near(spread: float) -> list[float]:
        return [1.0] + [rng.uniform(-spread, spread) for _ in range(EMBEDDING_DIM - 1)]

    with engine.begin() as connection:
        crowd, few = RowFactory(connection), RowFactory(connection)
        crowd_source, few_source = (
            crowd.insert("knowledge_sources"),
            few.insert("knowledge_sources"),
        )
        for i in range(400):  # the other tenant's chunks are all nearer the query
            crowd.insert("chunks", source_id=crowd_source, chunk_index=i, embedding=near(0.01))
        for i in range(5):
            few.insert("chunks", source_id=few_source, chunk_index=i, embedding=near(0.5))
        tenant = few.tenant_id
    with tenant_scope(tenant), runtime_engine.begin() as connection:
        # Through the HNSW index, as on a table too large to scan, not the tenant index.
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        connection.exec_driver_sql("SET LOCAL enable_bitmapscan = off")
        connection.exec_driver_sql("SET LOCAL enable_sort = off")
        connection.exec_driver_sql("SET LOCAL hnsw.ef_search = 10")
        plan = "\n".join(
            connection.exec_driver_sql(
                "EXPLAIN SELECT id FROM chunks ORDER BY embedding <=> %s::vector LIMIT 5",
                (str(query),),
            ).scalars()
        )
        assert "ix_chunks_embedding_hnsw" in plan
        hits = _nearest(connection, tenant, query, 5)
    assert len(hits) == 5


def test_a_worker_counts_every_tenants_provider_rows_when_it_checks_it_has_one(
    engine: sa.Engine, runtime_engine: sa.Engine
) -> None:
    from worker.llm.providers import active_provider_rows

    with engine.begin() as connection:
        RowFactory(connection).insert("ai_models", is_active=True)  # a tenant's own provider
    with runtime_engine.connect() as connection:  # the worker's start check: no tenant set
        assert active_provider_rows(connection) == 1


def test_the_demo_seed_runs_through_the_runtime_role(runtime_engine: sa.Engine) -> None:
    from models.db import sync_session_factory
    from worker.dev.seed import seed_demo

    with sync_session_factory(runtime_engine)() as session:
        assert seed_demo(session).created_anything
    with sync_session_factory(runtime_engine)() as session:
        assert not seed_demo(session).created_anything  # it sees what it wrote: its tenant's


def test_knowledge_search_as_the_runtime_role_finds_the_tenants_chunks(
    engine: sa.Engine, runtime_engine: sa.Engine
) -> None:
    from models.knowledge import EMBEDDING_DIM
    from worker.agents.knowledge import search

    vector = [1.0] + [0.0] * (EMBEDDING_DIM - 1)
    with engine.begin() as connection:
        rows = RowFactory(connection)
        source = rows.insert("knowledge_sources")
        rows.insert("chunks", source_id=source, chunk_index=0, embedding=vector)
    hits = search(runtime_engine, lambda texts: [vector], rows.tenant_id, "where?", 5)
    assert len(hits) == 1


def test_migrating_as_a_role_that_cannot_bypass_row_level_security_is_refused(
    engine: sa.Engine, runtime_engine: sa.Engine
) -> None:
    import importlib.util

    from worker.durable.schema import MIGRATIONS_DIR

    path = MIGRATIONS_DIR / "versions" / "20261202_0007_row_level_security.py"
    spec = importlib.util.spec_from_file_location("migration_0007", path)
    assert spec is not None and spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    with engine.begin() as connection:  # the owner (a superuser here) passes the guard
        connection.execute(sa.text(migration._OWNER_BYPASSES))
    with (
        runtime_engine.begin() as connection,
        pytest.raises(sa.exc.DBAPIError, match="neither a superuser nor BYPASSRLS"),
    ):
        connection.execute(sa.text(migration._OWNER_BYPASSES))


def test_an_async_engine_is_scoped_the_same_way(
    engine: sa.Engine, runtime_database_url: str
) -> None:
    import asyncio

    from models import db

    a, _ = _two_tenants_with_tasks(engine)

    async def titles() -> list[str]:
        async_engine = db.create_async_db_engine(runtime_database_url)
        try:
            async with async_engine.begin() as connection:
                result = await connection.execute(sa.text("SELECT title FROM tasks"))
                return list(result.scalars())
        finally:
            await async_engine.dispose()

    with tenant_scope(a):
        assert asyncio.run(titles()) == ["a's task"]
    assert asyncio.run(titles()) == []


def test_a_run_s_messages_are_seen_and_written_only_in_its_tenant(
    engine: sa.Engine, runtime_engine: sa.Engine
) -> None:
    with engine.begin() as connection:
        a, b = RowFactory(connection), RowFactory(connection)
        runs = {}
        for rows, text in ((a, "a's"), (b, "b's")):
            runs[text] = rows.insert("agent_runs", message_count=1)
            rows.insert("agent_run_messages", run_id=runs[text], seq=1, message={"content": text})
    with tenant_scope(a.tenant_id), runtime_engine.begin() as connection:
        seen = connection.execute(sa.text("SELECT message->>'content' FROM agent_run_messages"))
        assert seen.scalars().all() == ["a's"]
    with (
        tenant_scope(a.tenant_id),
        runtime_engine.connect() as connection,
        pytest.raises(sa.exc.ProgrammingError, match="row-level security"),
    ):
        connection.execute(
            sa.text(
                "INSERT INTO agent_run_messages (run_id, seq, tenant_id, message) "
                "VALUES (:run, 2, :b, '{}')"
            ),
            {"run": runs["b's"], "b": b.tenant_id},
        )
