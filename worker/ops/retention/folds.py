"""What a batch of doomed rows contributed to the fleet's summed figures, kept before they go.

``agentworker_fleet_metrics`` (migration 0012) returns the live rows' figures plus
``retained_totals``; ``fold_batch`` adds a batch's share to those totals in the batch's own
transaction, so a figure is the same just before and just after the batch commits. Each fold
mirrors, for the batch's rows only, the aggregate the function computes over the live table.
Rows the metrics fold (``worker.ops.metrics_folding``) already added are left out: their share
is in the totals since they settled, and the fold and a batch lock a row in turn, never both.
"""

from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY

from models import Base
from worker.ops.metrics import LATENCY_PREFIX, LATENCY_SUFFIX, latency_bounds_ms
from worker.ops.retention.policies import Policy

__all__ = ["fold_batch"]

# Each query yields (figure, label, value) rows over the rows whose ids are :ids.
_FOLDS: dict[str, str] = {
    # Tasks by final status, and what their runs (deleted with them) cost.
    "tasks": """
        SELECT 'tasks', status::text, count(*)::numeric FROM tasks
         WHERE id = ANY(:ids) AND NOT metrics_folded
         GROUP BY status
        UNION ALL SELECT v.figure, '', v.value
          FROM (SELECT coalesce(sum(r.llm_calls), 0) AS calls,
                       coalesce(sum(r.prompt_tokens), 0) AS prompt,
                       coalesce(sum(r.completion_tokens), 0) AS completion,
                       coalesce(sum(r.cost), 0) AS cost
                  FROM tasks t JOIN agent_runs r ON r.task_id = t.id
                 WHERE t.id = ANY(:ids) AND NOT t.metrics_folded) s
          CROSS JOIN LATERAL (VALUES ('llm_calls', s.calls::numeric),
                                     ('prompt_tokens', s.prompt::numeric),
                                     ('completion_tokens', s.completion::numeric),
                                     ('cost', s.cost::numeric)) AS v(figure, value)
    """,
    # The LLM latency histogram (count, sum, failed attempts, cumulative buckets).
    "ai_performance_metrics": """
        WITH m AS (SELECT metric_name, metric_value, measurement_context
                     FROM ai_performance_metrics
                    WHERE id = ANY(:ids) AND metric_category = 'latency' AND NOT metrics_folded
                      AND starts_with(metric_name, :prefix)
                      AND right(metric_name, length(:suffix)) = :suffix)
        SELECT 'latency_' || part.kind, agg.metric_name, part.value
          FROM (SELECT metric_name, count(*) AS n, coalesce(sum(metric_value), 0) AS total,
                       count(*) FILTER (WHERE measurement_context ->> 'ok' = 'false') AS failed
                  FROM m GROUP BY metric_name) agg
          CROSS JOIN LATERAL (VALUES ('count', agg.n::numeric), ('sum_ms', agg.total),
                                     ('failed', agg.failed::numeric)) AS part(kind, value)
        UNION ALL SELECT 'latency_bucket', metric_name || ' ' || bound::text, count(*)
          FROM m CROSS JOIN unnest(CAST(:bounds AS numeric[])) AS bound
         WHERE metric_value <= bound
         GROUP BY metric_name, bound
    """,
}

# In key order, as the metrics fold adds: two writers of the same totals cannot deadlock.
_UPSERT = """
    INSERT INTO retained_totals (tenant_id, figure, label, value)
    SELECT CAST(:tenant AS uuid), f.figure, f.label, f.value
      FROM ({rows}) AS f(figure, label, value)
     WHERE f.value <> 0
     ORDER BY f.figure, f.label
    ON CONFLICT (tenant_id, figure, label)
    DO UPDATE SET value = retained_totals.value + EXCLUDED.value
"""


def fold_batch(
    connection: sa.Connection, policy: Policy, tenant: uuid.UUID | None, ids: list[Any]
) -> None:
    """Add what the rows ``ids`` of ``policy.table`` contributed (and that they were deleted
    by ``policy``) to ``retained_totals``; call it in the transaction that deletes them."""
    id_type = ARRAY(Base.metadata.tables[policy.table].c.id.type)
    deleted = "SELECT 'retention_deleted', CAST(:policy AS text), CAST(:count AS numeric)"
    fold = _FOLDS.get(policy.table)
    rows = deleted if fold is None else f"{deleted} UNION ALL SELECT * FROM ({fold}) AS fold"
    statement = sa.text(_UPSERT.format(rows=rows))
    if fold is not None:
        statement = statement.bindparams(sa.bindparam("ids", type_=id_type))
    connection.execute(
        statement,
        {
            "tenant": tenant,
            "policy": policy.name,
            "count": len(ids),
            "ids": ids,
            "prefix": LATENCY_PREFIX,
            "suffix": LATENCY_SUFFIX,
            "bounds": latency_bounds_ms(),
        },
    )
