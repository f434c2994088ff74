"""Final history is folded into the retained totals as it settles: a scrape reads live rows only.

Revision ID: 0018_metrics_folding
Revises: 0017_one_pass_scrape
Create Date: 2026-12-07 10:00:00

A scrape's cost followed the whole history of ``tasks``, ``agent_runs`` and the LLM latency
rows (issue 15: under 200 ms at 10,000,000 event rows). A task that is final, with every run of
it final, never changes again; neither does a latency row. ``agentworker_fold_metrics`` (called
by the ``maintenance.fold_metrics`` beat job, ``worker.ops.metrics_folding``) adds such rows'
share of the fleet's summed figures to ``retained_totals`` and marks them ``metrics_folded``
in the same transaction, one batch at a time (``FOR UPDATE SKIP LOCKED``). A task's runs fold
with it (every run has its task), so only tasks and latency rows carry the mark.

``agentworker_fleet_metrics`` reads unfolded rows only, through partial indexes that hold just
them; retention's folds (``worker.ops.retention.folds``) add only unfolded rows' share when it
deletes, so no row is ever counted twice. Folding a task does not touch its ``updated_at``
(retention ages finished tasks by it): the tasks' trigger skips the update that sets the mark.

The latency buckets are folded at the bounds of the day (``worker.ops.metrics``); a change of
those bounds in code needs a migration that refolds, as it already did for retention.
Downgrading takes the folded rows' share back out of the totals before dropping the mark.
"""

from collections.abc import Sequence
from types import ModuleType

import sqlalchemy as sa
from alembic import op

from migrations.versions import revision_module

revision: str = "0018_metrics_folding"
down_revision: str | None = "0017_one_pass_scrape"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RUNTIME_ROLE = "agentworker_runtime"
_FINAL_TASK = "('SUCCEEDED', 'FAILED', 'CANCELLED')"
_FINAL_RUN = "('COMPLETED', 'FAILED', 'CANCELLED')"

_FOLD_SIGNATURE = (
    "agentworker_fold_metrics(latency_prefix text, latency_suffix text, bounds_ms numeric[], "
    "batch integer, settle interval)"
)


def _task_shares(rows: str) -> str:
    """(tenant_id, figure, label, value) of the tasks in ``rows`` (id, tenant_id, status):
    counts by status, and what their runs cost."""
    return f"""
        SELECT tenant_id, 'tasks'::text, status::text, count(*)::numeric FROM {rows}
         GROUP BY tenant_id, status
        UNION ALL SELECT s.tenant_id, v.figure, '', v.value
          FROM (SELECT p.tenant_id, coalesce(sum(r.llm_calls), 0) AS calls,
                       coalesce(sum(r.prompt_tokens), 0) AS prompt,
                       coalesce(sum(r.completion_tokens), 0) AS completion,
                       coalesce(sum(r.cost), 0) AS cost
                  FROM {rows} p JOIN agent_runs r ON r.task_id = p.id
                 GROUP BY p.tenant_id) s
          CROSS JOIN LATERAL (VALUES ('llm_calls', s.calls::numeric),
                                     ('prompt_tokens', s.prompt::numeric),
                                     ('completion_tokens', s.completion::numeric),
                                     ('cost', s.cost::numeric)) AS v(figure, value)
    """


def _latency_shares(rows: str) -> str:
    """(tenant_id, figure, label, value) of the latency rows in ``rows`` (tenant_id,
    metric_name, metric_value, measurement_context) that the histogram counts."""
    return f"""
        SELECT agg.tenant_id, 'latency_' || part.kind, agg.metric_name, part.value
          FROM (SELECT tenant_id, metric_name, count(*) AS n,
                       coalesce(sum(metric_value), 0) AS total,
                       count(*) FILTER (WHERE measurement_context ->> 'ok' = 'false') AS failed
                  FROM {rows}
                 WHERE starts_with(metric_name, latency_prefix)
                   AND right(metric_name, length(latency_suffix)) = latency_suffix
                 GROUP BY tenant_id, metric_name) agg
          CROSS JOIN LATERAL (VALUES ('count', agg.n::numeric), ('sum_ms', agg.total),
                                     ('failed', agg.failed::numeric)) AS part(kind, value)
        UNION ALL SELECT tenant_id, 'latency_bucket', metric_name || ' ' || bound::text, count(*)
          FROM {rows} CROSS JOIN unnest(bounds_ms) AS bound
         WHERE metric_value <= bound AND starts_with(metric_name, latency_prefix)
           AND right(metric_name, length(latency_suffix)) = latency_suffix
         GROUP BY tenant_id, metric_name, bound
    """


def _add_to_totals(shares: str, sign: str = "") -> str:
    # In key order, so two transactions adding to the same totals (two folds, a fold and a
    # retention batch) take their row locks in one order and cannot deadlock.
    return f"""
        INSERT INTO retained_totals (tenant_id, figure, label, value)
        SELECT s.tenant_id, s.figure, s.label, {sign}s.value
          FROM ({shares}) AS s(tenant_id, figure, label, value)
         WHERE s.value <> 0
         ORDER BY s.tenant_id, s.figure, s.label
        ON CONFLICT (tenant_id, figure, label)
        DO UPDATE SET value = retained_totals.value + EXCLUDED.value
    """


_FOLD = f"""
BEGIN
    WITH picked AS (
        SELECT t.id, t.tenant_id, t.status FROM tasks t
         WHERE NOT t.metrics_folded AND t.status IN {_FINAL_TASK}
           AND t.updated_at < now() - settle
           AND NOT EXISTS (SELECT 1 FROM agent_runs r
                            WHERE r.task_id = t.id AND r.status NOT IN {_FINAL_RUN})
         LIMIT batch FOR UPDATE OF t SKIP LOCKED
    ), marked AS (
        UPDATE tasks t SET metrics_folded = true FROM picked p WHERE t.id = p.id RETURNING t.id
    ), added AS ({_add_to_totals(_task_shares("picked"))})
    SELECT count(*) INTO folded_tasks FROM marked;

    WITH picked AS (
        SELECT m.id, m.tenant_id, m.metric_name, m.metric_value, m.measurement_context
          FROM ai_performance_metrics m
         WHERE NOT m.metrics_folded AND m.metric_category = 'latency'
           AND m.measurement_timestamp < now() - settle
         LIMIT batch FOR UPDATE OF m SKIP LOCKED
    ), marked AS (
        UPDATE ai_performance_metrics m SET metrics_folded = true FROM picked p
         WHERE m.id = p.id RETURNING m.id
    ), added AS ({_add_to_totals(_latency_shares("picked"))})
    SELECT count(*) INTO folded_latency_rows FROM marked;
    RETURN NEXT;
END
"""

_LIVE = """
    WITH latency AS (
        SELECT metric_name,
               -- how many bounds the value stays under or on: 0 (above them all) .. n
               width_bucket(-metric_value, (SELECT array_agg(-b ORDER BY b DESC)
                                              FROM unnest(bounds_ms) AS b)) AS under,
               count(*) AS n, coalesce(sum(metric_value), 0) AS total,
               count(*) FILTER (WHERE measurement_context ->> 'ok' = 'false') AS failed
          FROM ai_performance_metrics
         WHERE metric_category = 'latency' AND NOT metrics_folded
           AND starts_with(metric_name, latency_prefix)
           AND right(metric_name, length(latency_suffix)) = latency_suffix
         GROUP BY 1, 2
    )
    SELECT 'tasks', status::text, count(*)::numeric FROM tasks WHERE NOT metrics_folded
        GROUP BY status
    UNION ALL SELECT 'executions', status::text, count(*) FROM ai_workflow_executions
        GROUP BY status
    UNION ALL SELECT sums.figure, '', sums.value
      FROM (SELECT coalesce(sum(r.llm_calls), 0) AS llm_calls,
                   coalesce(sum(r.prompt_tokens), 0) AS prompt_tokens,
                   coalesce(sum(r.completion_tokens), 0) AS completion_tokens,
                   coalesce(sum(r.cost), 0) AS cost
              FROM tasks t JOIN agent_runs r ON r.task_id = t.id
             WHERE NOT t.metrics_folded) r
      CROSS JOIN LATERAL (VALUES ('llm_calls', r.llm_calls::numeric),
                                 ('prompt_tokens', r.prompt_tokens::numeric),
                                 ('completion_tokens', r.completion_tokens::numeric),
                                 ('cost', r.cost::numeric)) AS sums(figure, value)
    UNION ALL SELECT 'approvals_pending', '', count(*) FROM approvals
        WHERE status = 'pending'
    UNION ALL SELECT 'approval_oldest_pending_age', '',
        coalesce(extract(epoch FROM now() - min(created_at)), 0) FROM approvals
        WHERE status = 'pending'
    UNION ALL SELECT 'latency_' || part.kind, m.metric_name, part.value
      FROM (SELECT metric_name, sum(n) AS n, sum(total) AS total, sum(failed) AS failed
              FROM latency GROUP BY metric_name) m
      CROSS JOIN LATERAL (VALUES ('count', m.n::numeric), ('sum_ms', m.total),
                                 ('failed', m.failed::numeric)) AS part(kind, value)
    UNION ALL SELECT 'latency_bucket', l.metric_name || ' ' || bound.value::text, sum(l.n)
      FROM latency l
      CROSS JOIN unnest(bounds_ms) WITH ORDINALITY AS bound(value, position)
     -- under or on the position-th smallest bound: under at least n - position + 1 of them
     WHERE l.under >= cardinality(bounds_ms) - bound.position + 1
     GROUP BY l.metric_name, bound.value
"""

_TASKS_TRIGGER = (
    "CREATE TRIGGER tasks_set_updated_at BEFORE UPDATE ON tasks FOR EACH ROW {when}"
    "EXECUTE FUNCTION set_updated_at()"
)


def upgrade() -> None:
    for table in ("tasks", "ai_performance_metrics"):
        op.add_column(
            table,
            sa.Column(
                "metrics_folded", sa.Boolean(), server_default=sa.false(), nullable=False
            ),
        )
    op.create_index(
        "ix_tasks_unfolded",
        "tasks",
        ["status", "updated_at"],
        postgresql_where=sa.text("NOT metrics_folded"),
    )
    op.create_index(
        "ix_ai_performance_metrics_unfolded_latency",
        "ai_performance_metrics",
        ["measurement_timestamp"],
        postgresql_where=sa.text("NOT metrics_folded AND metric_category = 'latency'"),
    )
    op.execute("DROP TRIGGER tasks_set_updated_at ON tasks")
    op.execute(
        _TASKS_TRIGGER.format(
            when="WHEN (NEW.metrics_folded IS NOT DISTINCT FROM OLD.metrics_folded) "
        )
    )
    schema = op.get_bind().exec_driver_sql("SELECT current_schema()").scalar_one()
    op.execute(
        f"CREATE FUNCTION {_FOLD_SIGNATURE} "
        "RETURNS TABLE(folded_tasks bigint, folded_latency_rows bigint) LANGUAGE plpgsql "
        f"VOLATILE SECURITY DEFINER SET search_path = {schema}, pg_temp AS $$ {_FOLD} $$"
    )
    op.execute(f"REVOKE ALL ON FUNCTION {_FOLD_SIGNATURE} FROM PUBLIC")
    op.execute(f"GRANT EXECUTE ON FUNCTION {_FOLD_SIGNATURE} TO {RUNTIME_ROLE}")
    retention = revision_module("20261203_0012_retention.py")
    retention._replace_fleet_metrics(_one_pass()._with_retained(_LIVE))


def downgrade() -> None:
    # The folds used the code's histogram; the shares come out at the same bounds.
    from worker.ops.metrics import LATENCY_PREFIX, LATENCY_SUFFIX, latency_bounds_ms

    folded_tasks = "(SELECT id, tenant_id, status FROM tasks WHERE metrics_folded)"
    folded_latency = (
        "(SELECT tenant_id, metric_name, metric_value, measurement_context"
        " FROM ai_performance_metrics WHERE metrics_folded) AS m CROSS JOIN params"
    )
    shares = f"{_task_shares(folded_tasks)} UNION ALL {_latency_shares(folded_latency)}"
    unfold = sa.text(
        "WITH params AS (SELECT CAST(:prefix AS text) AS latency_prefix,"
        " CAST(:suffix AS text) AS latency_suffix, CAST(:bounds AS numeric[]) AS bounds_ms) "
        + _add_to_totals(shares, sign="-")
    )
    op.get_bind().execute(
        unfold,
        {"prefix": LATENCY_PREFIX, "suffix": LATENCY_SUFFIX, "bounds": latency_bounds_ms()},
    )
    op.execute("DELETE FROM retained_totals WHERE value = 0")
    retention = revision_module("20261203_0012_retention.py")
    retention._replace_fleet_metrics(_one_pass()._with_retained(_one_pass()._LIVE))
    op.execute(f"DROP FUNCTION {_FOLD_SIGNATURE}")
    op.execute("DROP TRIGGER tasks_set_updated_at ON tasks")
    op.execute(_TASKS_TRIGGER.format(when=""))
    op.drop_index("ix_ai_performance_metrics_unfolded_latency", table_name="ai_performance_metrics")
    op.drop_index("ix_tasks_unfolded", table_name="tasks")
    for table in ("tasks", "ai_performance_metrics"):
        op.drop_column(table, "metrics_folded")


def _one_pass() -> ModuleType:
    return revision_module("20261206_0017_one_pass_scrape.py")
