"""Row-level security on every tenant table; the runtime role; cross-tenant functions.

Revision ID: 0007_row_level_security
Revises: 0006_bound_decisions
Create Date: 2026-12-02 12:00:00

Every table with a ``tenant_id`` gets row-level security, enabled and forced, with one policy:
a row is visible and writable only when its ``tenant_id`` equals the transaction's
``app.tenant_id`` setting (``models.tenant_scope``). ``NULLIF(…, '')`` matters: a pooled
connection that once had the setting reads ``''``, not NULL, afterwards; compared as a uuid it
matches nothing, so an unset tenant sees no rows instead of failing open. A table whose
``tenant_id`` may be NULL (global rows: shared agents, models, dead letters of an unknown
tenant) also shows its global rows.

The worker connects as a member of ``agentworker_runtime``: it owns nothing, cannot bypass
row-level security, and may read and write rows but not change the schema. Work that must see
across tenants (finding the tenant of a task a message names, the reaper's scan) calls a few
narrow ``SECURITY DEFINER`` functions that return ids only; they run as the migrating role,
which must be a superuser or have BYPASSRLS (``agentworker migrate`` says so otherwise).

A later migration that adds a tenant table calls ``SELECT agentworker_protect_tenant_table(
'name')``; tests/integration/test_row_level_security.py fails for a table left out.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007_row_level_security"
down_revision: str | None = "0006_bound_decisions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RUNTIME_ROLE = "agentworker_runtime"

_CURRENT_TENANT = "(SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid)"
_CURRENT_USER = "(SELECT NULLIF(current_setting('app.user_id', true), '')::uuid)"

_PROTECT = f"""
CREATE FUNCTION agentworker_protect_tenant_table(table_name text) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    nullable boolean;
    visible text;
BEGIN
    SELECT is_nullable = 'YES' INTO nullable FROM information_schema.columns
     WHERE table_schema = current_schema() AND information_schema.columns.table_name
           = agentworker_protect_tenant_table.table_name AND column_name = 'tenant_id';
    IF nullable IS NULL THEN
        RAISE EXCEPTION 'table % has no tenant_id column', table_name;
    END IF;
    visible := CASE WHEN nullable
        THEN $p$tenant_id IS NULL OR tenant_id = {_CURRENT_TENANT}$p$
        ELSE $p$tenant_id = {_CURRENT_TENANT}$p$ END;
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', table_name);
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', table_name);
    EXECUTE format('DROP POLICY IF EXISTS tenant_isolation ON %I', table_name);
    EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (%s) WITH CHECK (%s)',
                   table_name, visible, visible);
END $$;
"""

_RUNTIME_ROLE = f"""
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{RUNTIME_ROLE}') THEN
        BEGIN
            CREATE ROLE {RUNTIME_ROLE} NOLOGIN NOSUPERUSER NOBYPASSRLS;
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE EXCEPTION 'role {RUNTIME_ROLE} does not exist and % may not create it',
                current_user
                USING HINT = 'create it once as a superuser: CREATE ROLE {RUNTIME_ROLE} '
                             'NOLOGIN; then run agentworker migrate again';
        END;
    END IF;
END $$;
"""

# Ids only, found across tenants: each is the one question a caller must ask before it knows
# its tenant. SECURITY DEFINER functions pin search_path so a caller cannot shadow a table.
_DEFINER_FUNCTIONS = {
    "agentworker_tenant_of_task(task_id uuid) RETURNS uuid": (
        "SELECT tenant_id FROM tasks WHERE id = task_id"
    ),
    "agentworker_tenant_of_execution(execution_id uuid) RETURNS uuid": (
        "SELECT tenant_id FROM ai_workflow_executions WHERE id = execution_id"
    ),
    "agentworker_tenant_of_approval(approval_id uuid) RETURNS uuid": (
        "SELECT tenant_id FROM approvals WHERE id = approval_id"
    ),
    # A credential names its tenant only through its prefix (worker.security.api_keys,
    # user_tokens): the prefix's owner, ids only; the secret is checked inside the scope.
    "agentworker_api_key_by_prefix(key_prefix text) RETURNS TABLE(key_id uuid, tenant_id uuid)": (
        "SELECT id, tenant_id FROM api_keys WHERE prefix = key_prefix"
    ),
    "agentworker_user_token_by_prefix(token_prefix text) "
    "RETURNS TABLE(token_id uuid, tenant_id uuid, user_id uuid)": (
        "SELECT id, tenant_id, user_id FROM user_tokens WHERE prefix = token_prefix"
    ),
    # The heartbeat renews every lease this worker process holds, whatever their tenants, in
    # one statement; only rows it owns and is still running can move.
    "agentworker_renew_leases(owner text, task_ids uuid[], lease_seconds double precision) "
    "RETURNS integer": (
        "WITH renewed AS (UPDATE tasks SET lease_expires_at = now() "
        "+ make_interval(secs => lease_seconds) WHERE id = ANY(task_ids) "
        "AND lease_owner = owner AND status = 'RUNNING' RETURNING 1) "
        "SELECT count(*)::integer FROM renewed"
    ),
    # The fleet's figures for Prometheus (worker.ops.metrics): aggregates over every tenant,
    # never a row. One (figure, label, value) per line; the latency lines per call name.
    "agentworker_fleet_metrics(latency_prefix text, latency_suffix text, bounds_ms numeric[]) "
    "RETURNS TABLE(figure text, label text, value numeric)": """
        SELECT 'tasks', status::text, count(*)::numeric FROM tasks GROUP BY status
        UNION ALL SELECT 'executions', status::text, count(*) FROM ai_workflow_executions
            GROUP BY status
        UNION ALL SELECT 'llm_calls', '', coalesce(sum(llm_calls), 0) FROM agent_runs
        UNION ALL SELECT 'prompt_tokens', '', coalesce(sum(prompt_tokens), 0) FROM agent_runs
        UNION ALL SELECT 'completion_tokens', '', coalesce(sum(completion_tokens), 0)
            FROM agent_runs
        UNION ALL SELECT 'cost', '', coalesce(sum(cost), 0) FROM agent_runs
        UNION ALL SELECT 'approvals_pending', '', count(*) FROM approvals
            WHERE status = 'pending'
        UNION ALL SELECT 'approval_oldest_pending_age', '',
            coalesce(extract(epoch FROM now() - min(created_at)), 0) FROM approvals
            WHERE status = 'pending'
        UNION ALL SELECT 'latency_' || part.kind, m.metric_name, part.value
          FROM (SELECT metric_name, count(*) AS n, coalesce(sum(metric_value), 0) AS total,
                       count(*) FILTER (WHERE measurement_context ->> 'ok' = 'false') AS failed
                  FROM ai_performance_metrics
                 WHERE metric_category = 'latency' AND starts_with(metric_name, latency_prefix)
                   AND right(metric_name, length(latency_suffix)) = latency_suffix
                 GROUP BY metric_name) m
          CROSS JOIN LATERAL (VALUES ('count', m.n::numeric), ('sum_ms', m.total),
                                     ('failed', m.failed::numeric)) AS part(kind, value)
        UNION ALL SELECT 'latency_bucket', metric_name || ' ' || bound::text, count(*)
          FROM ai_performance_metrics CROSS JOIN unnest(bounds_ms) AS bound
         WHERE metric_category = 'latency' AND starts_with(metric_name, latency_prefix)
           AND right(metric_name, length(latency_suffix)) = latency_suffix
           AND metric_value <= bound
         GROUP BY metric_name, bound
    """,
    # The tenants the reaper, the expiry sweep and the metrics must visit: those with work
    # that is not final. Each is then visited inside its own scope.
    "agentworker_tenants_with_open_work() RETURNS SETOF uuid": (
        "SELECT tenant_id FROM tasks WHERE status IN ('PENDING', 'RUNNING') "
        "UNION SELECT tenant_id FROM ai_workflow_executions "
        "WHERE status IN ('pending', 'running', 'awaiting_approval') "
        "UNION SELECT tenant_id FROM approvals WHERE status = 'pending'"
    ),
}

# The tenants table is the directory a submission's slug is looked up in: every tenant can be
# read (and created), but a tenant's own row (its settings, its encrypted secrets) changes only
# inside its own scope.
_TENANT_POLICIES = [
    "ALTER TABLE tenants ENABLE ROW LEVEL SECURITY",
    "ALTER TABLE tenants FORCE ROW LEVEL SECURITY",
    "CREATE POLICY tenants_directory ON tenants FOR SELECT USING (true)",
    "CREATE POLICY tenants_created ON tenants FOR INSERT WITH CHECK (true)",
    f"CREATE POLICY own_tenant_changed ON tenants FOR UPDATE USING (id = {_CURRENT_TENANT}) "
    f"WITH CHECK (id = {_CURRENT_TENANT})",
    f"CREATE POLICY own_tenant_deleted ON tenants FOR DELETE USING (id = {_CURRENT_TENANT})",
]

# Seed 001's own policies, in spirit: a person signed in sees only what is addressed to them;
# agent definitions change only by a tenant's admins and owners. With no user set (the worker
# acting for the tenant) they do not narrow anything.
_USER_POLICIES = [
    f"""CREATE POLICY own_recommendations ON ai_recommendations AS RESTRICTIVE
        USING ({_CURRENT_USER} IS NULL OR user_id = {_CURRENT_USER})""",
    f"""CREATE POLICY own_communications ON ai_communications AS RESTRICTIVE
        USING ({_CURRENT_USER} IS NULL OR recipient_id = {_CURRENT_USER})""",
    *(
        f"""CREATE POLICY agents_by_admins_{command.lower()} ON ai_agents AS RESTRICTIVE
        FOR {command} {clause} ({_CURRENT_USER} IS NULL OR EXISTS (
            SELECT 1 FROM tenant_memberships m
             WHERE m.user_id = {_CURRENT_USER} AND m.tenant_id = ai_agents.tenant_id
               AND m.role IN ('admin', 'owner')))"""
        for command, clause in (
            ("INSERT", "WITH CHECK"),
            ("UPDATE", "USING"),
            ("DELETE", "USING"),
        )
    ),
]


_OWNER_BYPASSES = """
DO $$
BEGIN
    IF NOT (SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user) THEN
        RAISE EXCEPTION 'the migrating role % is neither a superuser nor BYPASSRLS', current_user
            USING HINT = 'the cross-tenant functions of this migration run as it and would see '
                         'no rows: ALTER ROLE ' || current_user || ' BYPASSRLS (as a superuser), '
                         'then run agentworker migrate again';
    END IF;
END $$;
"""


def upgrade() -> None:
    op.execute(_OWNER_BYPASSES)
    op.execute(_RUNTIME_ROLE)
    op.execute(_PROTECT)
    op.execute(
        """
        SELECT agentworker_protect_tenant_table(c.table_name::text)
          FROM information_schema.columns c
          JOIN information_schema.tables t
            ON t.table_schema = c.table_schema AND t.table_name = c.table_name
         WHERE c.table_schema = current_schema() AND c.column_name = 'tenant_id'
           AND t.table_type = 'BASE TABLE'
        """
    )
    for statement in [*_TENANT_POLICIES, *_USER_POLICIES]:
        op.execute(statement)
    for signature, body in _DEFINER_FUNCTIONS.items():
        op.execute(
            f"CREATE FUNCTION {signature} LANGUAGE sql "
            f"{'VOLATILE' if 'UPDATE' in body else 'STABLE'} SECURITY DEFINER "
            f"SET search_path = {_schema()}, pg_temp AS $$ {body} $$"
        )
        name = signature.split(" RETURNS")[0]
        op.execute(f"REVOKE ALL ON FUNCTION {name} FROM PUBLIC")
        op.execute(f"GRANT EXECUTE ON FUNCTION {name} TO {RUNTIME_ROLE}")
    op.execute("REVOKE ALL ON FUNCTION agentworker_protect_tenant_table(text) FROM PUBLIC")
    _grant_runtime()


def _grant_runtime() -> None:
    schema = _schema()
    op.execute(f"GRANT USAGE ON SCHEMA {schema} TO {RUNTIME_ROLE}")
    op.execute(
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {RUNTIME_ROLE}"
    )
    op.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {RUNTIME_ROLE}")
    op.execute(f"REVOKE INSERT, UPDATE, DELETE ON alembic_version FROM {RUNTIME_ROLE}")
    # Tables and sequences that later migrations create (as this same role) are granted too.
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {RUNTIME_ROLE}"
    )
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} "
        f"GRANT USAGE, SELECT ON SEQUENCES TO {RUNTIME_ROLE}"
    )


def _schema() -> str:
    return str(op.get_bind().exec_driver_sql("SELECT current_schema()").scalar_one())


def downgrade() -> None:
    schema = _schema()
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} "
        f"REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM {RUNTIME_ROLE}"
    )
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} "
        f"REVOKE USAGE, SELECT ON SEQUENCES FROM {RUNTIME_ROLE}"
    )
    op.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {RUNTIME_ROLE}")
    op.execute(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {schema} FROM {RUNTIME_ROLE}")
    op.execute(f"REVOKE USAGE ON SCHEMA {schema} FROM {RUNTIME_ROLE}")
    for signature in _DEFINER_FUNCTIONS:
        op.execute(f"DROP FUNCTION IF EXISTS {signature.split(' RETURNS')[0]}")
    for policy in ("tenants_directory", "tenants_created", "own_tenant_changed"):
        op.execute(f"DROP POLICY IF EXISTS {policy} ON tenants")
    op.execute("DROP POLICY IF EXISTS own_tenant_deleted ON tenants")
    op.execute("DROP POLICY IF EXISTS own_recommendations ON ai_recommendations")
    op.execute("DROP POLICY IF EXISTS own_communications ON ai_communications")
    for command in ("insert", "update", "delete"):
        op.execute(f"DROP POLICY IF EXISTS agents_by_admins_{command} ON ai_agents")
    op.execute(
        """
        DO $$
        DECLARE name text;
        BEGIN
            FOR name IN SELECT c.relname FROM pg_class c
                         JOIN pg_namespace n ON n.oid = c.relnamespace
                        WHERE n.nspname = current_schema() AND c.relrowsecurity LOOP
                EXECUTE format('DROP POLICY IF EXISTS tenant_isolation ON %I', name);
                EXECUTE format('ALTER TABLE %I NO FORCE ROW LEVEL SECURITY', name);
                EXECUTE format('ALTER TABLE %I DISABLE ROW LEVEL SECURITY', name);
            END LOOP;
        END $$;
        """
    )
    op.execute("DROP FUNCTION IF EXISTS agentworker_protect_tenant_table(text)")
