"""Fair dispatch on real workers: a tenant's burst does not queue another tenant behind it.

Tenant A submits 300 tasks, then tenant B 10; with a window of 10 tasks in flight per tenant
the broker never holds more than 10 of A's messages, so B's tasks finish while most of A's
backlog is still held (``worker.durable.dispatch``).
"""

from __future__ import annotations

from models import TaskStatus
from tests.support.agents import add_agent
from tests.support.stack import Stack, wait_until
from worker.client import AgentWorkerClient

WINDOW = 10


def test_a_tenant_after_a_burst_finishes_before_the_burst_drains(stack: Stack) -> None:
    for tenant in ("acme", "other"):
        add_agent(stack.engine, "helper", tenant=tenant)
    stack.llm.latency_ms = 20  # a little work per task, as an LLM call would be
    client = AgentWorkerClient(
        stack.engine,
        stack.client.publisher,
        stack.client.settings.model_copy(update={"tenant_max_in_flight": WINDOW}),
        tenant="acme",
    )
    stack.start_worker(concurrency=4, AGENTWORKER_TENANT_MAX_IN_FLIGHT=str(WINDOW))

    a = [client.submit(agent="helper", input=f"a {i}") for i in range(300)]
    b = [client.submit(tenant="other", agent="helper", input=f"b {i}") for i in range(10)]

    def b_done() -> bool | None:
        rows = stack.rows(
            "SELECT count(*) FROM tasks WHERE id = ANY(:ids) AND status = 'SUCCEEDED'", ids=b
        )
        return True if rows[0][0] == len(b) else None

    wait_until(b_done, timeout=120, failure=lambda: "B's tasks did not all finish")
    # Counted from B's submission: A's tasks that ended meanwhile, and A's backlog then.
    (counts,) = stack.rows(
        "WITH b AS (SELECT min(created_at) AS since, max(finished_at) AS until FROM tasks "
        "WHERE id = ANY(:b)) "
        "SELECT count(*) FILTER (WHERE finished_at > b.since AND finished_at <= b.until), "
        "count(*) FILTER (WHERE finished_at IS NULL OR finished_at > b.since), "
        "count(*) FILTER (WHERE released_at IS NOT NULL) "
        "FROM tasks, b WHERE id = ANY(:a) GROUP BY b.since, b.until",
        a=a,
        b=b,
    )
    a_done_meanwhile, a_left_then, a_released = tuple(counts)
    assert a_left_then > 100, f"only {a_left_then} of A's tasks were left when B came"
    assert a_done_meanwhile < 3 * WINDOW, (
        f"{a_done_meanwhile} of A's {a_left_then} left finished before B's last"
    )
    assert a_released < len(a), "A's whole backlog was released at once"

    # The last ones released run side by side: A's last submitted need not be the last done.
    def a_final() -> bool | None:
        ((unfinished,),) = stack.rows(
            "SELECT count(*) FROM tasks WHERE id = ANY(:a) "
            "AND status NOT IN ('SUCCEEDED', 'FAILED', 'CANCELLED')",
            a=a,
        )
        return True if unfinished == 0 else None

    wait_until(a_final, timeout=180, failure=lambda: "A's backlog did not drain")
    statuses = dict(
        stack.rows("SELECT status, count(*) FROM tasks WHERE id = ANY(:a) GROUP BY status", a=a)
    )
    assert statuses == {TaskStatus.SUCCEEDED.value: len(a)}, "A's backlog drains in the end"


def test_foreign_submissions_beyond_the_window_are_held_then_run(stack: Stack) -> None:
    """Raw ``send_task`` messages go through the same window: beyond it the row is committed
    held and the message acked; finishing tasks release the rest."""
    add_agent(stack.engine, "helper")
    stack.llm.latency_ms = 50
    stack.start_worker(concurrency=4, AGENTWORKER_TENANT_MAX_IN_FLIGHT="2")

    messages = [
        stack.app.send_task(
            "agents.run_task", kwargs={"tenant": "acme", "agent": "helper", "input": f"f {i}"}
        ).id
        for i in range(8)
    ]

    def all_done() -> bool | None:
        (row,) = stack.rows(
            "SELECT count(*) FILTER (WHERE status = 'SUCCEEDED'), "
            "count(*) FILTER (WHERE released_at IS NOT NULL) FROM tasks "
            "WHERE broker_message_id = ANY(:m)",
            m=messages,
        )
        return True if row[0] == len(messages) else None

    wait_until(
        all_done,
        timeout=60,
        failure=lambda: (
            "foreign tasks did not all finish:\n"
            + "\n".join(w.log()[-3000:] for w in stack.workers)
        ),
    )
    (row,) = stack.rows(
        "SELECT max(attempts), count(*) FILTER (WHERE released_at > created_at) FROM tasks "
        "WHERE broker_message_id = ANY(:m)",
        m=messages,
    )
    attempts, held = tuple(row)
    assert attempts == 1, "a held task ran before its release, or twice"
    assert held >= 1, "no foreign submission was ever held by a window of 2"
