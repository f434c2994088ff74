"""The fleet metrics function reads each table once (issue 15: a scrape over a long history).

Revision 0007's body scanned ``agent_runs`` four times (one sum each) and
``ai_performance_metrics`` once per histogram bound plus once for the counts: at 10,000,000
event rows' history (500,000 runs, 1,000,000 latency rows) that was most of a scrape. Now
the four sums come from one scan, and the latency rows are grouped once by call and by how
many bounds they stay under (``width_bucket`` over the negated bounds: a value equal to a bound
counts under it, as before); the cumulative buckets, the count, the sum and the failures are
added up from those few groups. Same signature, same figures and labels (``CREATE OR
REPLACE`` keeps the owner and the grants); the retained totals are still added (revision 0012).
"""

from collections.abc import Sequence

from alembic import op

from migrations.versions import revision_module

revision: str = "0017_one_pass_scrape"
down_revision: str | None = "0016_message_rows"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_LIVE = """
    WITH latency AS (
        SELECT metric_name,
               -- how many bounds the value stays under or on: 0 (above them all) .. n
               width_bucket(-metric_value, (SELECT array_agg(-b ORDER BY b DESC)
                                              FROM unnest(bounds_ms) AS b)) AS under,
               count(*) AS n, coalesce(sum(metric_value), 0) AS total,
               count(*) FILTER (WHERE measurement_context ->> 'ok' = 'false') AS failed
          FROM ai_performance_metrics
         WHERE metric_category = 'latency' AND starts_with(metric_name, latency_prefix)
           AND right(metric_name, length(latency_suffix)) = latency_suffix
         GROUP BY 1, 2
    )
    SELECT 'tasks', status::text, count(*)::numeric FROM tasks GROUP BY status
    UNION ALL SELECT 'executions', status::text, count(*) FROM ai_workflow_executions
        GROUP BY status
    UNION ALL SELECT sums.figure, '', sums.value
      FROM (SELECT coalesce(sum(llm_calls), 0) AS llm_calls,
                   coalesce(sum(prompt_tokens), 0) AS prompt_tokens,
                   coalesce(sum(completion_tokens), 0) AS completion_tokens,
                   coalesce(sum(cost), 0) AS cost
              FROM agent_runs) r
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


def _with_retained(live: str) -> str:
    """Revision 0012's shape: the live figures plus what retention folded away."""
    return (
        f"SELECT f.figure, f.label, sum(f.value) FROM ({live}"
        " UNION ALL SELECT r.figure, r.label, r.value FROM retained_totals r)"
        " AS f(figure, label, value) GROUP BY f.figure, f.label"
    )


def upgrade() -> None:
    revision_module("20261203_0012_retention.py")._replace_fleet_metrics(_with_retained(_LIVE))


def downgrade() -> None:
    retention = revision_module("20261203_0012_retention.py")
    retention._replace_fleet_metrics(_with_retained(retention._live_body()))
